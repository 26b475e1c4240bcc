/**
 * A 206 Partial Content in answer to a fill. A fill never sends Range (forward.ts strips
 * it), so a 206 is an origin answering with part of what it was not asked to cut: those
 * bytes must never reach anyone as the whole response, stored or collapsed. One case is
 * harmless and common enough to keep: a 206 whose Content-Range names the complete
 * representation (`bytes 0-(n-1)/n`) is the whole response, and is taken as the 200 it
 * is, its length checked as any body's (collapse/fill.ts). Any other 206 fails the fetch
 * as an invalid origin response (502, or the stale copy where stale-if-error allows).
 */
import type { HeaderPairs } from "../../core/policy/index.ts";
import type { OriginResponse } from "./client.ts";
import { OriginError } from "./origin-error.ts";

export function wholeOrRefused(res: OriginResponse): OriginResponse {
  if (res.status !== 206) return res;
  const whole = completeLength(res.headers);
  if (whole === null) {
    res.dispose();
    throw new OriginError("invalid", "the origin answered a request without Range with a 206");
  }
  const headers: HeaderPairs = [];
  for (const pair of res.headers) {
    if (pair[0] === "content-range" || pair[0] === "content-length") continue;
    headers.push(pair);
  }
  headers.push(["content-length", String(whole)]);
  return { status: 200, headers, body: res.body, dispose: () => res.dispose() };
}

/**
 * n when the response has one Content-Range, `bytes 0-(n-1)/n`, and its Content-Length
 * (if any) is n (RFC 9110 §14.4); else null.
 */
function completeLength(headers: HeaderPairs): number | null {
  let range: string | null = null;
  let length: string | null = null;
  for (const [name, value] of headers) {
    if (name === "content-range") {
      if (range !== null) return null;
      range = value;
    } else if (name === "content-length") {
      if (length !== null && length !== value) return null;
      length = value;
    }
  }
  if (range === null) return null;
  const m = /^bytes 0-(\d{1,15})\/(\d{1,15})$/.exec(range.trim());
  if (m === null) return null;
  const last = Number(m[1]);
  const size = Number(m[2]);
  if (last + 1 !== size) return null;
  if (length !== null && length.trim() !== String(size)) return null;
  return size;
}
