/**
 * The memory tier: a byte-bounded LRU (lru-cache with a size calculation) of complete
 * responses. Responses that vary are stored in the manner of Varnish's and undici's
 * caches: the primary key holds a small index naming the Vary fields, and each variant
 * lives under the primary key plus the normalised values of those fields (RFC 9111 §4.1).
 *
 * Side indexes (URL → keys, tag → keys) serve invalidation (§4.4) and purge; they are kept
 * in step with the LRU through its dispose hook, so an evicted entry leaves no trace.
 */
import { LRUCache } from "lru-cache";
import type { EntryMeta, HeaderReader } from "../../core/policy/index.ts";
import { normaliseVaryValue } from "../../core/policy/index.ts";
import { flatten } from "./object.ts";

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
  /** For an image variant: its source image's normalised URL (purging it purges this). */
  readonly source?: string | undefined;
}

interface VaryIndex {
  readonly kind: "vary";
  readonly fields: readonly string[];
}

type Value = StoredObject | VaryIndex;

export interface MemoryTierOptions {
  readonly maxBytes: number;
  readonly maxObjectBytes: number;
  readonly onEvict?: (() => void) | undefined;
}

/**
 * Bytes an entry costs beyond its body and strings, measured rather than guessed: a
 * stored object's JS objects and arrays, the body's ArrayBuffer and allocation, its LRU
 * and index slots. bench/shield-memory.ts compares the account with the live heap and
 * external memory a 1 KiB entry really adds (2,636 bytes, accounted 2,814).
 */
const ENTRY_OVERHEAD = 900;

function sizeOf(value: Value, key: string): number {
  let n = ENTRY_OVERHEAD + key.length * 4;
  if (value.kind === "vary") return n;
  n += value.body.length + (value.url.length + (value.source?.length ?? 0)) * 2;
  for (const s of value.flat) n += s.length * 2 + 16;
  return n;
}

export class MemoryTier {
  readonly #lru: LRUCache<string, Value>;
  readonly #byUrl: Index = new Map();
  readonly #byTag: Index = new Map();
  readonly #bySource: Index = new Map();
  readonly #variants: Index = new Map();
  readonly maxObjectBytes: number;
  readonly maxBytes: number;

  constructor(options: MemoryTierOptions) {
    this.maxObjectBytes = options.maxObjectBytes;
    this.maxBytes = options.maxBytes;
    this.#lru = new LRUCache<string, Value>({
      maxSize: options.maxBytes,
      // Never above maxSize: lru-cache admits an entry larger than its whole budget, evicts
      // everything including that entry, and leaves calculatedSize negative.
      maxEntrySize: Math.min(options.maxBytes, options.maxObjectBytes + 1_000_000),
      sizeCalculation: sizeOf,
      dispose: (value, key, reason) => {
        if (value.kind === "object") this.#unindex(key, value);
        if (reason === "evict") options.onEvict?.();
      },
    });
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get entries(): number {
    return this.#lru.size;
  }

  /** The stored response this request's headers select under `primary`, if any. */
  lookup(primary: string, headers: HeaderReader): StoredObject | undefined {
    const v = this.#lru.get(primary);
    if (v === undefined || v.kind === "object") return v;
    const obj = this.#lru.get(secondaryKey(primary, v.fields, headers));
    return obj?.kind === "object" ? obj : undefined;
  }

  /** Responses stored under `primary` for other values of its Vary fields (RFC 9211 vary-miss). */
  hasVariants(primary: string): boolean {
    return this.#variants.has(primary);
  }

  /** Store a response; `requestHeaders` select its variant when it varies. */
  store(obj: StoredObject, requestHeaders: HeaderReader): void {
    if (obj.body.length > this.maxObjectBytes) return;
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
      key = secondaryKey(primary, vary.fields, requestHeaders);
    } else {
      this.#deleteVariants(primary);
    }
    this.#lru.set(key, obj);
    if (this.#lru.peek(key) !== obj) return; // too large for the LRU: not stored
    // Indexed after the set: replacing a variant disposes the old one, which unindexes it.
    if (key !== primary) add(this.#variants, primary, key);
    this.#index(key, obj);
  }

  /** Replace a stored object in place (after a 304 refresh or a soft purge). */
  replace(key: string, obj: StoredObject): void {
    if (this.#lru.peek(key) === undefined) return;
    this.#lru.set(key, obj);
    if (this.#lru.peek(key) !== obj) return;
    if (key !== obj.primary) add(this.#variants, obj.primary, key);
    this.#index(key, obj);
  }

  /** The storage key a stored object lives under (for replace/delete). */
  keyOf(obj: StoredObject, requestHeaders: HeaderReader): string {
    const vary = obj.meta.vary;
    return vary === null ? obj.primary : secondaryKey(obj.primary, vary.fields, requestHeaders);
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  /** Every stored key for a normalised URL, with the image variants made from it. */
  keysForUrl(url: string): string[] {
    const derived = keysOf(this.#bySource, url);
    const own = keysOf(this.#byUrl, url);
    return derived.length === 0 ? own : own.concat(derived);
  }

  keysForTag(tag: string): string[] {
    return keysOf(this.#byTag, tag);
  }

  keysForPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (const url of this.#byUrl.keys()) {
      if (url.startsWith(prefix)) out.push(...keysOf(this.#byUrl, url));
    }
    for (const url of this.#bySource.keys()) {
      if (url.startsWith(prefix)) out.push(...keysOf(this.#bySource, url));
    }
    return out;
  }

  peek(key: string): StoredObject | undefined {
    const v = this.#lru.peek(key);
    return v?.kind === "object" ? v : undefined;
  }

  clear(): void {
    this.#lru.clear();
  }

  #deleteVariants(primary: string): void {
    const keys = keysOf(this.#variants, primary);
    this.#variants.delete(primary);
    for (const k of keys) this.#lru.delete(k);
  }

  #index(key: string, obj: StoredObject): void {
    add(this.#byUrl, obj.url, key);
    for (const tag of obj.meta.tags) add(this.#byTag, tag, key);
    if (obj.source !== undefined) add(this.#bySource, obj.source, key);
  }

  #unindex(key: string, obj: StoredObject): void {
    remove(this.#byUrl, obj.url, key);
    if (obj.source !== undefined) remove(this.#bySource, obj.source, key);
    for (const tag of obj.meta.tags) remove(this.#byTag, tag, key);
    if (key !== obj.primary) remove(this.#variants, obj.primary, key);
  }
}

/** Primary key plus the normalised values of the Vary fields (RFC 9111 §4.1). */
export function secondaryKey(
  primary: string,
  fields: readonly string[],
  headers: HeaderReader,
): string {
  const values = fields.map((f) => normaliseVaryValue(f, headers.get(f)));
  return flatten(`${primary}\n${JSON.stringify(values)}`);
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

/**
 * Side indexes map a name to one key, or to a Set when several share it: almost every URL
 * has exactly one stored response, and a Set per entry would cost more than the entry's
 * own headers.
 */
type Index = Map<string, string | Set<string>>;

function add(index: Index, name: string, key: string): void {
  const v = index.get(name);
  if (v === undefined || v === key) index.set(name, key);
  else if (typeof v === "string") index.set(name, new Set([v, key]));
  else v.add(key);
}

function remove(index: Index, name: string, key: string): void {
  const v = index.get(name);
  if (v === undefined) return;
  if (typeof v === "string") {
    if (v === key) index.delete(name);
    return;
  }
  v.delete(key);
  if (v.size === 1) index.set(name, v.values().next().value as string);
  else if (v.size === 0) index.delete(name);
}

function keysOf(index: Index, name: string): string[] {
  const v = index.get(name);
  if (v === undefined) return [];
  return typeof v === "string" ? [v] : [...v];
}
