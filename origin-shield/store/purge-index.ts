/**
 * Which stored keys answer to a normalised URL, a tag (Surrogate-Key / Cache-Tag), a URL
 * prefix, or the URL of the response they were made from: what invalidation (RFC 9111
 * §4.4) and purge look up. It lives apart from any tier and follows each tier's stored
 * and removed events, so a replaced or evicted entry leaves no trace: purging a tag an
 * entry no longer carries touches nothing.
 */
import type { RecordHead } from "./lower-tier.ts";
import type { StoredObject } from "./stored-object.ts";
import type { RemovalReason, TierEvents } from "./tier.ts";

/** What the index reads of an entry: its URL, its tags, what it was made from. */
export type Indexed = Pick<StoredObject, "url" | "derivedFrom"> & {
  readonly meta: { readonly tags: readonly string[] };
};

/** A lower tier's record head (store/lower-tier.ts) as the index reads it. */
export function indexedHead(head: RecordHead): Indexed {
  return { url: head.id.url, derivedFrom: head.id.derivedFrom, meta: head.meta };
}

export class PurgeIndex implements TierEvents {
  readonly #byUrl: Index = new Map();
  readonly #byTag: Index = new Map();
  readonly #byDerivedFrom: Index = new Map();

  stored(key: string, obj: Indexed): void {
    add(this.#byUrl, obj.url, key);
    for (const tag of obj.meta.tags) add(this.#byTag, tag, key);
    if (obj.derivedFrom !== undefined) add(this.#byDerivedFrom, obj.derivedFrom, key);
  }

  removed(key: string, obj: Indexed, _reason?: RemovalReason | "expire"): void {
    remove(this.#byUrl, obj.url, key);
    for (const tag of obj.meta.tags) remove(this.#byTag, tag, key);
    if (obj.derivedFrom !== undefined) remove(this.#byDerivedFrom, obj.derivedFrom, key);
  }

  /** Every stored key for a normalised URL, with those of responses made from it. */
  keysForUrl(url: string): string[] {
    const derived = keysOf(this.#byDerivedFrom, url);
    const own = keysOf(this.#byUrl, url);
    return derived.length === 0 ? own : own.concat(derived);
  }

  keysForTag(tag: string): string[] {
    return keysOf(this.#byTag, tag);
  }

  /** Every stored key whose URL, or whose source's URL, starts with `prefix`. */
  keysForPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (const url of this.#byUrl.keys()) {
      if (url.startsWith(prefix)) out.push(...keysOf(this.#byUrl, url));
    }
    for (const url of this.#byDerivedFrom.keys()) {
      if (url.startsWith(prefix)) out.push(...keysOf(this.#byDerivedFrom, url));
    }
    return out;
  }
}

/**
 * An index maps a name to one key, or to a Set when several share it: almost every URL
 * has exactly one stored response, and a Set per entry would cost more than the entry's
 * own headers.
 */
export type Index = Map<string, string | Set<string>>;

export function add(index: Index, name: string, key: string): void {
  const v = index.get(name);
  if (v === undefined || v === key) index.set(name, key);
  else if (typeof v === "string") index.set(name, new Set([v, key]));
  else v.add(key);
}

export function remove(index: Index, name: string, key: string): void {
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

export function keysOf(index: Index, name: string): string[] {
  const v = index.get(name);
  if (v === undefined) return [];
  return typeof v === "string" ? [v] : [...v];
}
