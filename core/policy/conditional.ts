import { parseHttpDate } from "../http/dates.ts";
import { parseETag, parseETagList, weakMatch } from "../http/etag.ts";
import type { EntryMeta } from "./entry.ts";
import { type HeaderPairs, type HeaderReader, pairsReader } from "./types.ts";

/**
 * The request fields that make a request conditional (RFC 9110 §13.1), lowercase: the
 * one list for both tiers. A fetch for the cache drops the client's (it wants the
 * complete response, and answers the client's conditions from it, RFC 9111 §4.3.2);
 * forward-request.ts drops Range with them.
 */
export const CONDITIONAL_FIELDS: ReadonlySet<string> = new Set([
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
]);

/** Whether a field name (any case) is one of CONDITIONAL_FIELDS. */
export function isConditionalField(name: string): boolean {
  return CONDITIONAL_FIELDS.has(name.toLowerCase());
}

/**
 * `fields` without CONDITIONAL_FIELDS, names lowercased: a revalidation turned back into
 * a plain fetch when the 304 was about another response (RFC 9111 §4.3.4).
 */
export function withoutConditionals(fields: Iterable<[string, string]>): HeaderPairs {
  const out: HeaderPairs = [];
  for (const [field, value] of fields) {
    const name = field.toLowerCase();
    if (!CONDITIONAL_FIELDS.has(name)) out.push([name, value]);
  }
  return out;
}

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
  // A request without either field (most of them) is answered without reading `stored`.
  const inm = request.headers.get("if-none-match");
  if (inm !== null) {
    const list = parseETagList(inm);
    if (list === "*") return true;
    const etag = parseETag(pairsReader(stored).get("etag"));
    if (etag === null) return false;
    return list.some((candidate) => weakMatch(candidate, etag));
  }
  const imsValue = request.headers.get("if-modified-since");
  if (imsValue === null) return false;
  const ims = parseHttpDate(imsValue);
  if (ims === null) return false;
  const storedHeaders = pairsReader(stored);
  const modified =
    parseHttpDate(storedHeaders.get("last-modified")) ?? parseHttpDate(storedHeaders.get("date"));
  return modified !== null && modified <= ims;
}

/**
 * Representation metadata that describes the stored body's bytes: a 304 leaves it out
 * (RFC 9110 §15.4.5 asks a sender not to generate representation metadata beyond the
 * fields it lists), and a cache receiving one keeps its own (core/policy/update.ts).
 */
const BODY_FIELDS = new Set([
  "content-length",
  "content-encoding",
  "content-range",
  "content-type",
  "content-language",
  "content-digest",
  "digest",
]);

/**
 * The fields of a 304 answered from a stored response (RFC 9110 §15.4.5): every stored
 * field a 200 would have carried (Cache-Control, Expires, ETag, Vary, Date and the rest,
 * which a cache receiving it copies into its own stored response, RFC 9111 §4.3.4),
 * except those describing the body and Last-Modified when there is an ETag. The caller
 * adds its own Cache-Status. A 304 carries nothing the 200 from the same stored response
 * would not have carried to the same client.
 */
export function notModifiedHeaders(stored: HeaderPairs): HeaderPairs {
  const hasEtag = stored.some(([name]) => name === "etag");
  return stored.filter(
    ([name]) =>
      !BODY_FIELDS.has(name) && name !== "cache-status" && (name !== "last-modified" || !hasEtag),
  );
}
