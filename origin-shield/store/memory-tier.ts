/**
 * The memory tier (store/tier.ts): a byte-bounded LRU (lru-cache with a size
 * calculation) of complete responses. Responses that vary are stored in the manner of
 * Varnish's and undici's caches: the primary key holds a small record naming the Vary
 * fields, and each variant lives under the primary key plus the normalised values of
 * those fields (RFC 9111 §4.1).
 */
import { LRUCache } from "lru-cache";
import type { HeaderReader } from "../../core/policy/index.ts";
import { normaliseVaryValue } from "../../core/policy/index.ts";
import { add, type Index, keysOf, remove } from "./purge-index.ts";
import {
  ENTRY_OVERHEAD,
  flatten,
  type StoredObject,
  storedSize,
  toStoredObject,
} from "./stored-object.ts";
import type { StoredHead, Tier, TierEvents, TierWriter } from "./tier.ts";

interface VaryRecord {
  readonly kind: "vary";
  readonly fields: readonly string[];
}

type Value = StoredObject | VaryRecord;

export interface MemoryTierOptions {
  readonly maxBytes: number;
  readonly maxObjectBytes: number;
  /** Told of every object stored and removed (the purge index, the eviction counter). */
  readonly events?: readonly TierEvents[] | undefined;
}

export class MemoryTier implements Tier {
  readonly name = "memory";
  readonly #lru: LRUCache<string, Value>;
  /** Primary key → the keys of its variants (responses that vary). */
  readonly #variants: Index = new Map();
  readonly #events: readonly TierEvents[];
  readonly maxObjectBytes: number;
  readonly maxBytes: number;

  constructor(options: MemoryTierOptions) {
    this.maxObjectBytes = options.maxObjectBytes;
    this.maxBytes = options.maxBytes;
    this.#events = options.events ?? [];
    this.#lru = new LRUCache<string, Value>({
      maxSize: options.maxBytes,
      // Never above maxSize: lru-cache admits an entry larger than its whole budget, evicts
      // everything including that entry, and leaves calculatedSize negative.
      maxEntrySize: Math.min(options.maxBytes, options.maxObjectBytes + 1_000_000),
      sizeCalculation: (value, key) =>
        value.kind === "vary" ? ENTRY_OVERHEAD + key.length * 4 : storedSize(value, key),
      dispose: (value, key, reason) => {
        if (value.kind !== "object") return;
        if (key !== value.primary) remove(this.#variants, value.primary, key);
        const why = reason === "evict" ? "evict" : reason === "set" ? "replace" : "delete";
        for (const e of this.#events) e.removed(key, value, why);
      },
    });
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get entries(): number {
    return this.#lru.size;
  }

  lookup(primary: string, request: HeaderReader): StoredObject | undefined {
    const v = this.#lru.get(primary);
    if (v === undefined || v.kind === "object") return v;
    const obj = this.#lru.get(varyKey(primary, v.fields, request));
    return obj?.kind === "object" ? obj : undefined;
  }

  hasVariants(primary: string): boolean {
    return this.#variants.has(primary);
  }

  keyOf(obj: StoredObject, request: HeaderReader): string {
    const vary = obj.meta.vary;
    return vary === null ? obj.primary : varyKey(obj.primary, vary.fields, request);
  }

  writer(head: StoredHead, request: HeaderReader): TierWriter | null {
    const declared = head.declaredLength;
    if (declared !== null && declared > this.maxObjectBytes) return null;
    return new MemoryWriter(this, head, request);
  }

  put(obj: StoredObject, request: HeaderReader): boolean {
    // A body streamed from disk stays there: memory holds only what it holds whole.
    if (obj.body.length > this.maxObjectBytes || obj.streamed !== undefined) return false;
    const primary = obj.primary;
    const vary = obj.meta.vary;
    let key = primary;
    if (vary !== null) {
      const current = this.#lru.peek(primary);
      if (current?.kind !== "vary" || !sameFields(current.fields, vary.fields)) {
        // A new Vary list makes the variants stored under the old one unreachable.
        this.#deleteVariants(primary);
        this.#lru.set(primary, { kind: "vary", fields: vary.fields });
      }
      key = varyKey(primary, vary.fields, request);
    } else {
      this.#deleteVariants(primary);
    }
    return this.#set(key, obj);
  }

  replace(key: string, obj: StoredObject): boolean {
    if (this.#lru.peek(key) === undefined) return false;
    return this.#set(key, obj);
  }

  peek(key: string): StoredObject | undefined {
    const v = this.#lru.peek(key);
    return v?.kind === "object" ? v : undefined;
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  #set(key: string, obj: StoredObject): boolean {
    this.#lru.set(key, obj);
    if (this.#lru.peek(key) !== obj) return false; // too large for the LRU: not stored
    // Told after the set: replacing an object disposes the old one, which is told first.
    if (key !== obj.primary) add(this.#variants, obj.primary, key);
    for (const e of this.#events) e.stored(key, obj);
    return true;
  }

  #deleteVariants(primary: string): void {
    const keys = keysOf(this.#variants, primary);
    this.#variants.delete(primary);
    for (const k of keys) this.#lru.delete(k);
  }
}

/**
 * A body kept in memory as it arrives. With a declared length the body is allocated once
 * and each chunk copied into it; readers get views of that buffer, so the socket's chunk
 * is garbage at once and no second copy is made at the end.
 */
class MemoryWriter implements TierWriter {
  readonly #tier: MemoryTier;
  readonly #head: StoredHead;
  readonly #request: HeaderReader;
  readonly #target: Buffer | null;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #open = true;

  constructor(tier: MemoryTier, head: StoredHead, request: HeaderReader) {
    this.#tier = tier;
    this.#head = head;
    this.#request = request;
    const declared = head.declaredLength;
    this.#target = declared === null ? null : Buffer.allocUnsafeSlow(declared);
  }

  write(chunk: Buffer): Buffer | null {
    if (!this.#open) return null;
    const at = this.#bytes;
    this.#bytes += chunk.length;
    const target = this.#target;
    if (
      this.#bytes > this.#tier.maxObjectBytes ||
      (target !== null && this.#bytes > target.length)
    ) {
      this.abort();
      return null;
    }
    if (target === null) {
      this.#chunks.push(chunk);
      return chunk;
    }
    chunk.copy(target, at);
    return target.subarray(at, this.#bytes);
  }

  commit(): StoredObject | null {
    if (!this.#open) return null;
    this.#open = false;
    const target = this.#target;
    if (target !== null && this.#bytes !== target.length) return null;
    const body = target ?? concatExact(this.#chunks, this.#bytes);
    this.#chunks.length = 0;
    const obj = toStoredObject(this.#head.meta, body, this.#head.id);
    return this.#tier.put(obj, this.#request) ? obj : null;
  }

  abort(): void {
    this.#open = false;
    this.#chunks.length = 0;
  }
}

/**
 * One buffer of exactly the body's size. Chunks from a socket are views into larger
 * read buffers (up to 64 KiB): storing them would keep those alive, so a 1 KiB object
 * could pin 64 KiB. allocUnsafeSlow never hands out a slice of Node's shared pool.
 */
function concatExact(chunks: readonly Buffer[], total: number): Buffer {
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const c of chunks) {
    c.copy(out, at);
    at += c.length;
  }
  return out;
}

/** Primary key plus the normalised values of the Vary fields (RFC 9111 §4.1). */
export function varyKey(primary: string, fields: readonly string[], request: HeaderReader): string {
  const values = fields.map((f) => normaliseVaryValue(f, request.get(f)));
  return flatten(`${primary}\n${JSON.stringify(values)}`);
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}
