/**
 * A small byte-bounded LRU of hot, small objects inside one isolate, in front of the
 * Cache API. A hit here costs no Cache API call, the largest part of a hit's work (under
 * Miniflare a lookup alone halves a Worker's throughput; see bench/edge.ts).
 *
 * It holds the same bytes and metadata as the Cache API entry, so every decision is
 * unchanged: freshness, stale windows and Vary come from the metadata, read against the
 * clock on each request. What it cannot see is a purge made elsewhere (Cloudflare's
 * purge by tag, another isolate's invalidation), so a copy is used for at most
 * `edge.memory.maxAgeSeconds` after it was read or written here, then re-read from the
 * Cache API: that bounds how long a purged object can still be served. Each isolate has
 * its own (isolates have 128 MB), bounded by `edge.memory.maxBytes`.
 */
import type { EntryMeta } from "../../core/policy/index.ts";

export interface MemoryLimits {
  readonly maxBytes: number;
  readonly maxObjectBytes: number;
  readonly maxAgeSeconds: number;
}

interface Held {
  readonly key: string;
  readonly meta: EntryMeta;
  readonly bytes: Uint8Array;
  /** Used until then (ms, the edge's clock). */
  readonly until: number;
  readonly size: number;
}

/** What one entry costs beyond its body: key, metadata, bookkeeping (an estimate). */
const OVERHEAD = 1024;

export class MemoryTier {
  readonly #limits: MemoryLimits;
  readonly #held = new Map<string, Held>();
  #bytes = 0;

  constructor(limits: MemoryLimits) {
    this.#limits = limits;
  }

  /** Whether a body of this many bytes may be held. */
  fits(bytes: number): boolean {
    return bytes <= this.#limits.maxObjectBytes && bytes + OVERHEAD <= this.#limits.maxBytes;
  }

  get(name: string, key: string, now: number): { meta: EntryMeta; bytes: Uint8Array } | null {
    const held = this.#held.get(name);
    if (held === undefined) return null;
    if (held.key !== key || now >= held.until || now >= held.meta.deleteAt) {
      this.delete(name);
      return null;
    }
    // Most recently used last: Map keeps insertion order.
    this.#held.delete(name);
    this.#held.set(name, held);
    return { meta: held.meta, bytes: held.bytes };
  }

  set(name: string, key: string, meta: EntryMeta, bytes: Uint8Array, now: number): void {
    this.delete(name);
    if (!this.fits(bytes.byteLength)) return;
    const size = bytes.byteLength + key.length * 2 + OVERHEAD;
    const until = now + this.#limits.maxAgeSeconds * 1000;
    this.#held.set(name, { key, meta, bytes, until, size });
    this.#bytes += size;
    for (const [oldest, held] of this.#held) {
      if (this.#bytes <= this.#limits.maxBytes) break;
      this.#held.delete(oldest);
      this.#bytes -= held.size;
    }
  }

  delete(name: string): void {
    const held = this.#held.get(name);
    if (held === undefined) return;
    this.#held.delete(name);
    this.#bytes -= held.size;
  }

  /** Bytes held (for tests). */
  get bytes(): number {
    return this.#bytes;
  }
}
