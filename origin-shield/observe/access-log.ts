/**
 * The per-request log line, in pino's JSON format and written to the logger's own
 * destination, but formatted here with one template string and written in batches:
 * through `log.info()` (a bindings merge, a serialiser pass per key) a line cost about
 * 5 µs, and even a bare write to pino's asynchronous destination about 1.5 µs, against
 * about 25 µs of CPU for serving a whole hit. Lines are handed over as soon as BATCH
 * bytes wait (about 400 lines), at most FLUSH_MS after the first of them (as nginx's
 * `access_log … buffer= flush=`), and at exit.
 *
 * What a line costs: each batch handed to the destination is measured, encoded and, once
 * written, encoded again by sonic-boom, and is a thread-pool round trip (write(2) on a
 * worker thread, a wake-up of the event loop, the callback), so batches are 64 KiB
 * rather than 16 KiB; lines are kept in an array and joined once, so the batch is one
 * flat string rather than a rope of thousands of pieces that each of those passes walks;
 * and the method and URL, which from Node's parser are printable ASCII in practice, are
 * quoted as they are once checked, JSON.stringify being kept for any other string. A
 * line written to /dev/null in a loop: 0.63 µs before these, 0.36 µs after. Served alone
 * on one core, a 1 KiB hit still costs 2 to 3 µs more with the log on than off
 * (bench/shield-hit.ts): the line's code and data share the core's caches with the
 * request's.
 *
 * Fields: method, url, status, outcome, bytes, ms, complete, and the request's W3C trace
 * (observe/trace.ts): `trace` (the trace-id), `span` (this hop's span id, the parent-id
 * the origin receives) and `parent` (the caller's span id, the edge's, absent when the
 * trace started here), so a request is followed from the edge's log line through this
 * one to the origin's. Each line is byte for byte what JSON.stringify would write.
 */
import { type Logger, symbols } from "pino";
import type { Outcome } from "./metrics.ts";
import type { HopTrace } from "./trace.ts";

export type AccessLog = (
  method: string,
  url: string,
  status: number,
  outcome: Outcome,
  bytes: number,
  ms: number,
  complete: boolean,
  trace?: HopTrace,
) => void;

interface Destination {
  write(line: string): unknown;
  flushSync?: () => void;
}

const BATCH = 64 * 1024;
const FLUSH_MS = 100;

/** Flushers of every live access log, run once at exit. */
const atExit = new Set<() => void>();
let exitHook = false;

/** The writer for `log`, or null when info is not enabled. */
export function accessLog(log: Logger): AccessLog | null {
  if (!log.isLevelEnabled("info")) return null;
  const internals = log as unknown as Record<symbol, unknown>;
  const stream = internals[symbols.streamSym] as Destination | undefined;
  const chindings = internals[symbols.chindingsSym];
  const level = log.levels.values.info;
  if (typeof stream?.write !== "function" || typeof chindings !== "string") {
    return (method, url, status, outcome, bytes, ms, complete, trace) =>
      log.info({ method, url, status, outcome, bytes, ms, complete, ...traceFields(trace) });
  }
  let pending: string[] = [];
  let pendingLength = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const out = pending.join("");
    pending = [];
    pendingLength = 0;
    stream.write(out);
  };
  atExit.add(() => {
    flush();
    try {
      stream.flushSync?.();
    } catch {
      // the destination was never opened or is closed: nothing more can be written
    }
  });
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const f of atExit) f();
    });
  }
  return (method, url, status, outcome, bytes, ms, complete, trace) => {
    if (pending.length === 0) setTimeout(flush, FLUSH_MS).unref();
    // The ids are lowercase hex (core/http/trace-context.ts): written as they are.
    const traced =
      trace === undefined
        ? ""
        : trace.parentId === null
          ? `,"trace":"${trace.traceId}","span":"${trace.spanId}"`
          : `,"trace":"${trace.traceId}","span":"${trace.spanId}","parent":"${trace.parentId}"`;
    const line = `{"level":${level},"time":${Date.now()}${chindings},"method":${quote(method)},"url":${quote(url)},"status":${status},"outcome":"${outcome}","bytes":${bytes},"ms":${ms},"complete":${complete}${traced}}\n`;
    pending.push(line);
    pendingLength += line.length;
    if (pendingLength >= BATCH) flush();
  };
}

/**
 * `s` as a JSON string, as JSON.stringify writes it: printable ASCII other than `"` and
 * `\` needs no escape, and is quoted without a call into JSON.stringify.
 */
function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/** The trace's fields for pino's own formatting (see the line above). */
function traceFields(trace: HopTrace | undefined): Record<string, string> {
  if (trace === undefined) return {};
  const fields: Record<string, string> = { trace: trace.traceId, span: trace.spanId };
  if (trace.parentId !== null) fields.parent = trace.parentId;
  return fields;
}
