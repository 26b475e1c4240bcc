/**
 * A complete response as a tier keeps it, and what it costs to keep. Content-Length is
 * set to the stored body's length (the origin may have sent it chunked), so a hit is
 * written with one `writeHead` and one `end` and never needs chunked encoding.
 */
import type { EntryMeta } from "../../core/policy/index.ts";
import type { BodyStream, StreamedBody } from "../types.ts";

export interface StoredObject {
  readonly kind: "object";
  readonly meta: EntryMeta;
  readonly body: Buffer;
  /** meta.headers flattened once for `writeHead`: [name, value, …]. */
  readonly flat: readonly string[];
  /** Cache-Status written by caches behind the origin, when the response had one. */
  readonly upstream: string | null;
  /** Normalised URL (core/key), for invalidation and purge by URL or prefix. */
  readonly url: string;
  readonly primary: string;
  /**
   * The normalised URL of the stored response this one was made from, if any: purging
   * that URL purges this too (an image variant and its source).
   */
  readonly derivedFrom?: string | undefined;
  /**
   * A body too large to hold in memory, read from disk as it is sent (the disk tier); when
   * set, `body` is empty and the size is the stream's. A HeldBody is one the tier has
   * already read whole for this lookup: it is sent as one buffer, never kept.
   */
  readonly streamed?: StreamedBody | undefined;
  /** The lower tier this copy was read from (disk, redis), for Cache-Status; else unset. */
  readonly from?: "disk" | "redis" | undefined;
}

/**
 * A body a lower tier read whole, and checked, for one lookup: larger than the memory
 * tier keeps, small enough to hold while it is sent (store/disk-tier.ts does so up to
 * 1 MiB). As a StreamedBody nothing stores it beyond the requests that read it, and
 * respond.ts writes its bytes as one buffer, the way it writes a memory hit, instead of
 * iterating a stream of one chunk.
 */
export class HeldBody implements StreamedBody {
  readonly bytes: Buffer;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  get size(): number {
    return this.bytes.length;
  }

  /** Bytes `start`..`end` inclusive, without copying. */
  part(start: number, end: number): Buffer {
    return this.bytes.subarray(start, end + 1);
  }

  open(start: number, end: number): BodyStream {
    let left: Buffer | null = this.part(start, end);
    return {
      close: () => {
        left = null;
      },
      async *[Symbol.asyncIterator]() {
        const chunk = left;
        left = null;
        if (chunk !== null && chunk.length > 0) yield chunk;
      },
    };
  }
}

/** Where a stored object belongs: its URL, primary key and what it was made from. */
export interface StoredIdentity {
  readonly url: string;
  readonly primary: string;
  readonly derivedFrom?: string | undefined;
}

export function toStoredObject(
  stored: EntryMeta,
  body: Buffer,
  id: StoredIdentity,
  streamed?: StreamedBody,
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
  const size = streamed === undefined ? body.length : streamed.size;
  if (meta.status !== 204) flat.push("content-length", String(size));
  // Ranges are served from the stored copy (RFC 9110 §14.3).
  if (meta.status === 200 && !acceptRanges) flat.push("accept-ranges", "bytes");
  return {
    kind: "object",
    meta,
    body,
    flat,
    upstream,
    url: flatten(id.url),
    primary: flatten(id.primary),
    derivedFrom: id.derivedFrom === undefined ? undefined : flatten(id.derivedFrom),
    streamed,
  };
}

/** The body's length, whether it is held in memory or streamed from disk. */
export function bodySize(obj: StoredObject): number {
  return obj.streamed === undefined ? obj.body.length : obj.streamed.size;
}

/** The same object with new metadata (a 304 refresh, a soft purge); the body is shared. */
export function withMeta(obj: StoredObject, meta: EntryMeta): StoredObject {
  return toStoredObject(meta, obj.body, obj, obj.streamed);
}

/**
 * Bytes an entry costs beyond its body and strings, measured rather than guessed: a
 * stored object's JS objects and arrays, the body's ArrayBuffer and allocation, its LRU
 * and index slots. bench/shield-memory.ts compares the account with the live heap and
 * external memory a 1 KiB entry really adds (2,636 bytes, accounted 2,814).
 */
export const ENTRY_OVERHEAD = 900;

/** What keeping `obj` under `key` costs, bytes: the account every tier's budget uses. */
export function storedSize(obj: StoredObject, key: string): number {
  let n = ENTRY_OVERHEAD + key.length * 4;
  n += obj.body.length + (obj.url.length + (obj.derivedFrom?.length ?? 0)) * 2;
  for (const s of obj.flat) n += s.length * 2 + 16;
  return n;
}

/**
 * V8 keeps a string built by concatenation (the normalised URL, the cache key) as a rope:
 * a node per `+`, whose leaves may be slices keeping the request's own strings alive;
 * about 640 bytes per stored entry (bench/shield-memory.ts). A stored key lives for
 * hours, so it is flattened once: converting a string to a number flattens it in place.
 */
export function flatten(text: string): string {
  Number(text);
  return text;
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
