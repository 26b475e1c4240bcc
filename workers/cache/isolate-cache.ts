/**
 * A small byte-bounded LRU of hot, small objects inside one isolate, in front of the
 * Cache API. A hit here costs no Cache API call, the largest part of a hit's work (under
 * Miniflare a lookup alone halves a Worker's throughput; see bench/edge.ts).
 *
 * It holds the same bytes and metadata as the Cache API entry, so every decision is
 * unchanged: freshness, stale windows and Vary come from the metadata, read against the
 * clock on each request. What it cannot see is a purge made elsewhere (Cloudflare's
 * purge by tag, another isolate's invalidation), so a copy is used for at most
 * `edge.isolateCacheMs` after it was read or written here, then re-read from the Cache
 * API: that window is the longest a purged object can still be served by an isolate that
 * held it. Each isolate has its own (isolates have 128 MB), bounded by
 * `edge.memory.maxBytes`.
 *
 * The LRU is lru-cache, as in the shield's memory tier (origin-shield/store/memory-tier.ts):
 * bench/libraries.ts measures it faster than the Map-based LRU this replaced, in Node and
 * in workerd. Expiry is not lru-cache's TTL: both limits are read against the edge's clock
 * (`now`), as everything else in the edge is.
 */
import { LRUCache } from "lru-cache";
import type { EntryMeta } from "../../core/policy/index.ts";
import type { VaryRecord } from "./vary-record.ts";

export interface MemoryLimits {
  readonly maxBytes: number;
  readonly maxObjectBytes: number;
  /** How long a copy is used after it was read or written here, ms (edge.isolateCacheMs). */
  readonly windowMs: number;
}

interface Held {
  readonly key: string;
  /** A response with its bytes, or a key's vary record (./vary-record.ts). */
  readonly meta: EntryMeta | null;
  readonly bytes: Uint8Array;
  readonly record: VaryRecord | null;
  /** Used until then (ms, the edge's clock). */
  readonly until: number;
  readonly deleteAt: number;
}

const NO_BYTES = new Uint8Array(0);

/** What one entry costs beyond its body: key, metadata, bookkeeping (an estimate). */
const OVERHEAD = 1024;

export class IsolateCache {
  readonly #limits: MemoryLimits;
  readonly #lru: LRUCache<string, Held>;

  constructor(limits: MemoryLimits) {
    this.#limits = limits;
    this.#lru = new LRUCache<string, Held>({
      maxSize: limits.maxBytes,
      // lru-cache would otherwise admit an entry larger than its whole budget (evicting
      // everything, that entry included); with this it refuses it.
      maxEntrySize: limits.maxBytes,
    });
  }

  /** Whether a body of this many bytes may be held. */
  fits(bytes: number): boolean {
    return bytes <= this.#limits.maxObjectBytes && bytes + OVERHEAD <= this.#limits.maxBytes;
  }

  get(name: string, key: string, now: number): { meta: EntryMeta; bytes: Uint8Array } | null {
    // A get makes the entry the most recently used.
    const held = this.#usable(name, key, now);
    if (held === null || held.meta === null) return null;
    return { meta: held.meta, bytes: held.bytes };
  }

  /** The vary record held under `name` for this key, if any. */
  getRecord(name: string, key: string, now: number): VaryRecord | null {
    return this.#usable(name, key, now)?.record ?? null;
  }

  #usable(name: string, key: string, now: number): Held | null {
    const held = this.#lru.get(name);
    if (held === undefined) return null;
    if (held.key !== key || now >= held.until || now >= held.deleteAt) {
      this.#lru.delete(name);
      return null;
    }
    return held;
  }

  setRecord(name: string, key: string, record: VaryRecord, now: number): void {
    const until = now + this.#limits.windowMs;
    const held = { key, meta: null, bytes: NO_BYTES, record, until, deleteAt: record.deleteAt };
    this.#lru.set(name, held, { size: key.length * 2 + OVERHEAD });
  }

  set(name: string, key: string, meta: EntryMeta, bytes: Uint8Array, now: number): void {
    if (!this.fits(bytes.byteLength)) {
      this.#lru.delete(name);
      return;
    }
    const until = now + this.#limits.windowMs;
    // Replaces any entry under `name`, then evicts the least recently used to fit.
    this.#lru.set(
      name,
      { key, meta, bytes, record: null, until, deleteAt: meta.deleteAt },
      { size: bytes.byteLength + key.length * 2 + OVERHEAD },
    );
  }

  delete(name: string): void {
    this.#lru.delete(name);
  }

  /** Bytes held (for tests). */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}
