/**
 * The per-request log line, in pino's JSON format and written to the logger's own
 * destination, but formatted here with one template string and written in batches:
 * through `log.info()` (a bindings merge, a serialiser pass per key) a line cost about
 * 5 µs, and even a bare write to pino's asynchronous destination about 1.5 µs, against
 * about 10 µs for serving a whole hit, and each write(2) it leads to costs a thread-pool
 * round trip. Lines are handed over as soon as BATCH bytes wait (about 50 lines), at
 * most FLUSH_MS after the first of them (as nginx's `access_log … buffer= flush=`), and
 * at exit.
 * Fields: method, url, status, outcome, bytes, ms, complete.
 */
import { type Logger, symbols } from "pino";
import type { Outcome } from "./metrics.ts";

export type AccessLog = (
  method: string,
  url: string,
  status: number,
  outcome: Outcome,
  bytes: number,
  ms: number,
  complete: boolean,
) => void;

interface Destination {
  write(line: string): unknown;
  flushSync?: () => void;
}

const BATCH = 16 * 1024;
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
    return (method, url, status, outcome, bytes, ms, complete) =>
      log.info({ method, url, status, outcome, bytes, ms, complete });
  }
  let pending = "";
  const flush = () => {
    if (pending === "") return;
    const out = pending;
    pending = "";
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
  return (method, url, status, outcome, bytes, ms, complete) => {
    if (pending === "") setTimeout(flush, FLUSH_MS).unref();
    pending += `{"level":${level},"time":${Date.now()}${chindings},"method":${JSON.stringify(method)},"url":${JSON.stringify(url)},"status":${status},"outcome":"${outcome}","bytes":${bytes},"ms":${ms},"complete":${complete}}\n`;
    if (pending.length >= BATCH) flush();
  };
}
