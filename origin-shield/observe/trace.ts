/**
 * W3C Trace Context at the shield (core/http/trace-context.ts): every proxied request
 * gets this hop's span in the trace the edge sent (or a new trace when none, or a
 * malformed one, came), and its header object is rewritten before any route sees it, so
 * whatever is forwarded from it (a fill, a pass-through, an image's source) carries this
 * hop's `traceparent`, and never the one received. The access log writes the same ids.
 */
import { continueTrace, type HopTrace } from "../../core/http/trace-context.ts";
import type { NodeHeaders } from "../http/headers.ts";

export type { HopTrace };

/** This hop's trace for a request; `headers` then carry the `traceparent` to send on. */
export function traceRequest(headers: NodeHeaders): HopTrace {
  const received = Object.hasOwn(headers, "traceparent") ? headers.traceparent : undefined;
  // A repeated field arrives joined by ", " (or, from a web Headers, as one string) and
  // fails to parse: a new trace, as for any malformed value.
  const trace = continueTrace(typeof received === "string" ? received : null);
  headers.traceparent = trace.traceparent;
  // The spec: state that came with a traceparent this hop could not read is not passed
  // on. Set to undefined rather than deleted, which nothing forwards or reads either.
  if (trace.restarted && Object.hasOwn(headers, "tracestate")) headers.tracestate = undefined;
  return trace;
}
