/**
 * Byte ranges and lengths of the bodies the edge sends: a single range of a stored (or
 * just fetched, whole) 200 as a 206 (RFC 9110 §14, core/http/range.ts), 416 with
 * `Content-Range: bytes *\/length` when it selects nothing, and a Content-Length the
 * runtime puts on the wire.
 *
 * A range of a coded body names bytes of the coded body (§14.1.1). The Workers runtime
 * re-codes a response into a coding the client prefers (a br body to a gzip-only client
 * becomes gzip), which a fragment of a coded body does not survive: it sends an empty
 * body instead. So a coded body's range is sent only to a client that accepts that
 * coding and not the other (../request/accept-encoding.ts `acceptsOnly`), and every
 * other client gets the whole 200, which the runtime re-codes whole.
 *
 * Workers sends a body of unknown length chunked, whatever Content-Length says; a body
 * the edge knows the length of goes through a FixedLengthStream so that the client gets
 * its Content-Length (an edge hit from the Cache API, a tee branch of a fetch).
 */
import { selectRange } from "../../core/http/range.ts";
import { discard, type StoredBody } from "../cache/body.ts";
import { acceptsOnly, clientAcceptEncoding } from "../request/accept-encoding.ts";
import type { EdgeRequest } from "./edge-request.ts";

export interface Ranged {
  readonly status: number;
  readonly body: StoredBody;
}

/** The body's length: its bytes, or the Content-Length it was stored or sent with. */
function lengthOf(headers: Headers, body: StoredBody): number | null {
  if (body instanceof Uint8Array) return body.byteLength;
  const value = headers.get("content-length");
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

/** May a part of a body in this coding be sent to this client? */
function rangeableCoding(er: EdgeRequest, headers: Headers): boolean {
  const coding = (headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (coding === "identity" || coding === "") return true;
  if (coding !== "br" && coding !== "gzip") return false;
  return acceptsOnly(clientAcceptEncoding(er.client), coding);
}

/**
 * The status and body to send for a 200 with `headers` (changed in place: Content-Range,
 * Content-Length): a 206 or 416 when the client's GET asks for a range this edge can
 * answer, else the 200 with its length known to the runtime.
 */
export function applyRange(
  er: EdgeRequest,
  status: number,
  headers: Headers,
  body: StoredBody,
): Ranged {
  const length = lengthOf(headers, body);
  const range = er.client.headers.get("range");
  if (
    status !== 200 ||
    range === null ||
    er.client.method !== "GET" ||
    length === null ||
    !rangeableCoding(er, headers)
  ) {
    return { status, body: withKnownLength(body, length) };
  }
  const selected = selectRange(range, er.client.headers.get("if-range"), length, headers);
  if (selected.kind === "full") return { status, body: withKnownLength(body, length) };
  if (selected.kind === "unsatisfiable") {
    discard(body);
    // RFC 9110 §15.5.17: the current length, so the client can ask again.
    headers.set("content-range", `bytes */${length}`);
    headers.set("content-length", "0");
    headers.delete("content-encoding");
    return { status: 416, body: null };
  }
  const { start, end } = selected;
  const count = end - start + 1;
  headers.set("content-range", `bytes ${start}-${end}/${length}`);
  headers.set("content-length", String(count));
  if (body instanceof Uint8Array) return { status: 206, body: body.subarray(start, end + 1) };
  if (body === null) return { status: 206, body: null };
  return { status: 206, body: withKnownLength(slice(body, start, end), count) };
}

/** A stream whose length is known, as one the runtime sends with Content-Length. */
function withKnownLength(body: StoredBody, length: number | null): StoredBody {
  if (!(body instanceof ReadableStream) || length === null) return body;
  return body.pipeThrough(new FixedLengthStream(length));
}

/** Bytes start..end (inclusive) of a stream; the rest of the source is cancelled. */
function slice(stream: ReadableStream, start: number, end: number): ReadableStream {
  let at = 0;
  const cut = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const from = at;
      at += chunk.byteLength;
      if (at > start && from <= end) {
        const first = Math.max(0, start - from);
        const last = Math.min(chunk.byteLength, end + 1 - from);
        controller.enqueue(chunk.subarray(first, last));
      }
      // Past the range: end here, which cancels what the source has left.
      if (at > end) controller.terminate();
    },
  });
  return stream.pipeThrough(cut);
}
