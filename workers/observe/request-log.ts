/**
 * What the edge records of one request: its W3C trace (core/http/trace-context.ts), which
 * shield node answered and how long that took, and, once the response is ready, one
 * structured log line. The line goes to console.log as a single JSON object: Workers Logs
 * indexes its fields, `wrangler tail` shows it live. With the shield's access log line,
 * which carries the same trace id (and this hop's span id as its parent), one request can
 * be followed from the edge through the shield to the origin.
 *
 * Timings use performance.now(): in a Worker it advances only across I/O (a Spectre
 * mitigation), which is what is wanted here: the time spent waiting on the shield, and
 * from arrival to response headers (the body then streams, unmeasured).
 */
import { continueTrace, type HopTrace } from "../../core/http/trace-context.ts";
import type { UpstreamOutcome } from "../upstream/fetch-upstream.ts";

/** One request's trace and upstream timings, filled in as it is served. */
export interface EdgeHop {
  readonly trace: HopTrace;
  /** performance.now() when the request arrived. */
  readonly started: number;
  /** The base URL of the shield node (or origin) that answered; null: none was asked. */
  node: string | null;
  /** Nodes tried, the one that answered included. */
  attempts: number;
  /** Time from sending to the shield until its response headers, ms; null: not asked. */
  upstreamMs: number | null;
  /** Why no node answered, when none did. */
  failure: "timeout" | "unreachable" | null;
}

/** Start recording a request: continue its trace, or start one (a new span either way). */
export function startHop(client: Request): EdgeHop {
  return {
    trace: continueTrace(client.headers.get("traceparent")),
    started: performance.now(),
    node: null,
    attempts: 0,
    upstreamMs: null,
    failure: null,
  };
}

/** Record how a fetch upstream went; `sentAt` is performance.now() before it was sent. */
export function noteUpstream(hop: EdgeHop, up: UpstreamOutcome, sentAt: number): void {
  hop.attempts += up.attempts;
  hop.upstreamMs = round(performance.now() - sentAt);
  if (up.kind === "response") {
    hop.node = up.target;
    hop.failure = null;
  } else hop.failure = up.reason;
}

/** The request's log line: one JSON object (see above). */
export function requestLine(hop: EdgeHop, client: Request, response: Response): string {
  // A request's URL is absolute and already parsed by the runtime: split, not parsed again.
  const url = client.url;
  const start = url.indexOf("//") + 2;
  const slash = url.indexOf("/", start);
  const trace = hop.trace;
  const colo = (client as { cf?: { colo?: unknown } }).cf?.colo;
  return JSON.stringify({
    msg: "edge request",
    method: client.method,
    host: slash < 0 ? url.slice(start) : url.slice(start, slash),
    url: slash < 0 ? "/" : url.slice(slash),
    status: response.status,
    cacheStatus: response.headers.get("cache-status"),
    node: hop.node,
    attempts: hop.attempts,
    failure: hop.failure ?? undefined,
    ms: round(performance.now() - hop.started),
    upstreamMs: hop.upstreamMs,
    colo: typeof colo === "string" ? colo : undefined,
    trace: trace.traceId,
    span: trace.spanId,
    parent: trace.parentId ?? undefined,
  });
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
