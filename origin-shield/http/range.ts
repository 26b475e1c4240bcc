/**
 * Single byte ranges served from a stored full response (RFC 9110 §14). A request for
 * several ranges gets the whole 200 (a server may ignore Range, §14.2), which beats
 * building multipart/byteranges for the rare client that asks for it.
 */
import { parseHttpDate } from "../../core/http/dates.ts";
import { parseETag } from "../../core/http/etag.ts";
import type { HeaderReader } from "../../core/policy/index.ts";

export type RangeResult =
  | { readonly kind: "full" }
  | { readonly kind: "partial"; readonly start: number; readonly end: number }
  | { readonly kind: "unsatisfiable" };

const FULL: RangeResult = { kind: "full" };

/** Which part of a `size`-byte representation (with `stored` headers) to send. */
export function selectRange(
  range: string | null,
  ifRange: string | null,
  size: number,
  stored: HeaderReader,
): RangeResult {
  if (range === null) return FULL;
  // An empty representation has no byte positions a Content-Range could name; a server
  // may ignore Range (§14.2), so the whole, empty, 200 it is.
  if (size === 0) return FULL;
  if (ifRange !== null && !ifRangeMatches(ifRange, stored)) return FULL;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (m === null) return FULL; // several ranges or another unit: send it all
  const [, first = "", last = ""] = m;
  if (first === "" && last === "") return FULL;
  if (first.length > 15 || last.length > 15) return FULL;
  if (first === "") {
    // suffix range: the last N bytes (§14.1.2)
    const n = Number(last);
    if (n === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return FULL; // invalid range-spec: ignore the field (§14.2)
  return { kind: "partial", start, end };
}

/** §13.1.5: a strong entity-tag match, or an HTTP-date equal to a strong Last-Modified. */
function ifRangeMatches(value: string, stored: HeaderReader): boolean {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith("W/")) {
    const want = parseETag(v);
    const have = parseETag(stored.get("etag"));
    return want !== null && have !== null && !want.weak && !have.weak && want.tag === have.tag;
  }
  const date = parseHttpDate(v);
  const modified = parseHttpDate(stored.get("last-modified"));
  return date !== null && modified !== null && date === modified;
}
