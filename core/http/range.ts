/**
 * One byte range of a stored full response (RFC 9110 §14), as both tiers answer it: a
 * single `bytes=first-last`, `bytes=first-` or suffix `bytes=-n`, checked against
 * If-Range (§13.1.5). Several ranges, another unit or a malformed field get the whole
 * response (a server may ignore Range, §14.2), which beats building
 * multipart/byteranges for the rare client that asks for it. Pure; bounded work.
 */
import { parseHttpDate } from "./dates.ts";
import { parseETag } from "./etag.ts";

export type RangeResult =
  | { readonly kind: "full" }
  | { readonly kind: "partial"; readonly start: number; readonly end: number }
  | { readonly kind: "unsatisfiable" };

const FULL: RangeResult = { kind: "full" };

/** Longest Range value read; a longer one is several ranges or a client inventing. */
const MAX_RANGE_CHARS = 256;

/**
 * Which part of a `size`-byte representation to send, for a GET with these Range and
 * If-Range values; `stored` reads the representation's ETag and Last-Modified.
 */
export function selectRange(
  range: string | null,
  ifRange: string | null,
  size: number,
  stored: { get(name: string): string | null },
): RangeResult {
  if (range === null || range.length > MAX_RANGE_CHARS) return FULL;
  // An empty representation has no byte a Content-Range could name: the whole, empty 200.
  if (size === 0) return FULL;
  if (ifRange !== null && !ifRangeMatches(ifRange, stored)) return FULL;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (m === null) return FULL; // several ranges or another unit: send it all
  const [, first = "", last = ""] = m;
  if (first === "" && last === "") return FULL;
  if (first.length > 15 || last.length > 15) return FULL;
  if (first === "") {
    // §14.1.2: a suffix range, the last n bytes; -0 selects nothing.
    const n = Number(last);
    if (n === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return FULL; // an invalid range-spec: the field is ignored (§14.2)
  return { kind: "partial", start, end };
}

/** §13.1.5: a strong entity-tag match, or an HTTP-date equal to Last-Modified. */
function ifRangeMatches(value: string, stored: { get(name: string): string | null }): boolean {
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
