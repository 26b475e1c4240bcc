/**
 * The cache key: which stored response a request may be served.
 *
 * Serialised as JSON of a fixed-arity tuple, never by joining strings with a delimiter:
 * with `host + "|" + path + "|" + header`, a header value containing "|" can make two
 * different requests share a key, and one user would be served another's response
 * (undici moved to JSON.stringify after exactly that). JSON escapes every string, so
 * distinct tuples always give distinct text; a component that is not part of the key
 * is `null`, so positions never shift between components.
 *
 *   [method, scheme, host, path, query, [[header, value|null]…], [[cookie, value|null]…], variant]
 *
 * A cookie named more than once contributes the list of its values (core/key/cookies.ts).
 *
 * `method` is null for GET and HEAD, which share an entry (a HEAD is answered from a
 * stored GET, RFC 9110 §9.3.2 / RFC 9111 §4); any other method gets entries of its own
 * so a cached POST answer can never be served for a GET.
 */
import type { KeySpec } from "../config/schema.ts";
import { readCookies } from "./cookies.ts";
import { sha256Hex } from "./hash.ts";
import type { NormalisedUrl } from "./normalise-url.ts";

export interface CacheKeyInput {
  readonly url: NormalisedUrl;
  readonly headers: { get(name: string): string | null };
  readonly method?: string | undefined;
}

// Characters JSON.stringify escapes: quote, backslash, controls, and (ES2019 well-formed
// JSON.stringify) surrogates, of which it escapes the lone ones.
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes exactly these controls
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON text of a string or null, exactly as JSON.stringify writes it inside an array. */
function json(v: string | null | undefined): string {
  if (v == null) return "null";
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}

/** JSON text of a value or, for a repeated cookie, of the list of its values. */
function jsonValue(v: string | readonly string[] | null | undefined): string {
  return typeof v === "object" && v !== null ? `[${v.map(json).join(",")}]` : json(v);
}

/** `[["name",value],…]`: the same text JSON.stringify gives for the pairs. */
function pairs(
  names: readonly string[],
  values: (i: number) => string | readonly string[] | null,
): string {
  if (names.length === 0) return "[]";
  let out = "[";
  for (let i = 0; i < names.length; i++) {
    out += `${i === 0 ? "" : ","}[${json(names[i])},${jsonValue(values(i))}]`;
  }
  return `${out}]`;
}

/**
 * Build the cache key string for a normalised request. Pure. The text is what
 * `JSON.stringify` gives for the tuple above, written out piece by piece because this
 * is the hot path and the intermediate arrays cost more than the strings.
 */
export function buildCacheKey(
  input: CacheKeyInput,
  spec: KeySpec,
  variant?: string | null,
): string {
  const { url, headers, method } = input;
  // Header values as the request carries them: a Headers `get` joins repeated fields
  // with ", " (RFC 9110 §5.3), so a split field keys like its combined form.
  const headerPart = pairs(spec.headers, (i) => headers.get(spec.headers[i] as string));
  let cookiePart = "[]";
  if (spec.cookies.length > 0) {
    const values = readCookies(headers.get("cookie"), spec.cookies);
    cookiePart = pairs(spec.cookies, (i) => values[i] ?? null);
  }
  const m = method === undefined || method === "GET" || method === "HEAD" ? null : method;
  return `[${json(m)},${json(spec.scheme ? url.scheme : null)},${json(spec.host ? url.host : null)},${json(url.path)},${json(url.query)},${headerPart},${cookiePart},${json(variant)}]`;
}

/**
 * A short fixed-length name for a key, safe in file names and Redis keys: the first 128
 * bits of SHA-256, 32 lowercase hex digits. 128 bits keep accidental collisions out of
 * reach (~2^64 entries for a 50% chance); the store should still keep the full key
 * beside the entry and compare it on read, which also catches a deliberate collision.
 */
export function storageName(key: string): string {
  return sha256Hex(key).slice(0, 32);
}
