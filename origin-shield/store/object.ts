/**
 * A complete response as the memory tier keeps it. Content-Length is set to the stored
 * body's length (the origin may have sent it chunked), so a hit is written with one
 * `writeHead` and one `end` and never needs chunked encoding.
 */
import type { EntryMeta } from "../../core/policy/index.ts";
import type { StoredObject } from "./memory.ts";

export function toStoredObject(
  stored: EntryMeta,
  body: Buffer,
  url: string,
  primary: string,
  source?: string | undefined,
): StoredObject {
  const meta: EntryMeta = { ...stored, headers: stored.headers.map(internPair) };
  const flat: string[] = [];
  let upstream: string | null = null;
  let acceptRanges = false;
  for (const [name, value] of meta.headers) {
    if (name === "content-length") continue;
    // Cache-Status from caches behind the origin is kept apart: each answer appends ours.
    if (name === "cache-status") {
      upstream = upstream === null ? value : `${upstream}, ${value}`;
      continue;
    }
    if (name === "accept-ranges") acceptRanges = true;
    flat.push(name, value);
  }
  if (meta.status !== 204) flat.push("content-length", String(body.length));
  // Ranges are served from the stored copy (RFC 9110 §14.3).
  if (meta.status === 200 && !acceptRanges) flat.push("accept-ranges", "bytes");
  return {
    kind: "object",
    meta,
    body,
    flat,
    upstream,
    url: flatten(url),
    primary: flatten(primary),
    source: source === undefined ? undefined : flatten(source),
  };
}

/**
 * V8 keeps a string built by concatenation (the normalised URL, the cache key) as a rope:
 * a node per `+`, whose leaves may be slices keeping the request's own strings alive;
 * about 640 bytes per stored entry (bench/shield-memory.ts). A stored key lives for
 * hours, so it is flattened once: converting a string to a number flattens it in place.
 */
export function flatten(s: string): string {
  Number(s);
  return s;
}

/**
 * Header names, and the values of fields that take few distinct values, shared between
 * entries instead of held once per entry: with 100,000 small entries these strings were
 * a good part of what an entry costs. Bounded, so odd origins cannot grow it for ever.
 */
const interned = new Map<string, string>();
const MAX_INTERNED = 10_000;
const FEW_VALUES: ReadonlySet<string> = new Set([
  "accept-ranges",
  "access-control-allow-origin",
  "cache-control",
  "cdn-cache-control",
  "content-encoding",
  "content-type",
  "server",
  "vary",
  "x-content-type-options",
]);

function intern(s: string): string {
  const known = interned.get(s);
  if (known !== undefined) return known;
  if (interned.size < MAX_INTERNED) interned.set(s, flatten(s));
  return s;
}

function internPair([name, value]: [string, string]): [string, string] {
  const n = intern(name);
  return [n, FEW_VALUES.has(n) ? intern(value) : value];
}
