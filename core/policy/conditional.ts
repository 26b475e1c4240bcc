import { parseHttpDate } from "../http/dates.ts";
import { parseETag, parseETagList, weakMatch } from "../http/etag.ts";
import type { EntryMeta } from "./entry.ts";
import { type HeaderPairs, type HeaderReader, pairsReader } from "./types.ts";

/**
 * Conditional request headers to revalidate a stored response with its origin
 * (RFC 9111 §4.3.1): If-None-Match with the entity tag, If-Modified-Since with
 * Last-Modified. Empty when the response has no validator (a full fetch follows).
 */
export function revalidationHeaders(entry: Pick<EntryMeta, "headers">): HeaderPairs {
  const out: HeaderPairs = [];
  for (const [name, value] of entry.headers) {
    if (name === "etag") out.push(["if-none-match", value]);
    else if (name === "last-modified") out.push(["if-modified-since", value]);
  }
  return out;
}

/**
 * Should a cache answer this client's conditional GET/HEAD with 304 from the stored
 * response (RFC 9111 §4.3.2, RFC 9110 §13.2.2)? If-None-Match is evaluated with the weak
 * comparison and, when present, If-Modified-Since is ignored; otherwise
 * If-Modified-Since is compared with Last-Modified, or with Date when there is none.
 */
export function isNotModified(
  request: { readonly method: string; readonly headers: HeaderReader },
  stored: HeaderPairs,
): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const storedHeaders = pairsReader(stored);
  const inm = request.headers.get("if-none-match");
  if (inm !== null) {
    const list = parseETagList(inm);
    if (list === "*") return true;
    const etag = parseETag(storedHeaders.get("etag"));
    if (etag === null) return false;
    return list.some((candidate) => weakMatch(candidate, etag));
  }
  const ims = parseHttpDate(request.headers.get("if-modified-since"));
  if (ims === null) return false;
  const modified =
    parseHttpDate(storedHeaders.get("last-modified")) ?? parseHttpDate(storedHeaders.get("date"));
  return modified !== null && modified <= ims;
}

/**
 * Fields a 304 carries (RFC 9110 §15.4.5): those a 200 would have sent that guide caches,
 * plus Last-Modified when there is no ETag. Content fields are left out.
 */
const NOT_MODIFIED_FIELDS = new Set([
  "cache-control",
  "cdn-cache-control",
  "content-location",
  "date",
  "etag",
  "expires",
  "vary",
]);

export function notModifiedHeaders(stored: HeaderPairs): HeaderPairs {
  const hasEtag = stored.some(([n]) => n === "etag");
  return stored.filter(([n]) => NOT_MODIFIED_FIELDS.has(n) || (n === "last-modified" && !hasEtag));
}
