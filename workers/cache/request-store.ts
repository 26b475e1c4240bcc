import type { EntryMeta, HeaderReader } from "../../core/policy/index.ts";
import type { StoredBody } from "./body.ts";
import type { EntryStore, Lookup, PutResult, StoredEntry } from "./entry-store.ts";

/**
 * The store for one request: the same calls as EntryStore, with the request's fields
 * (as forwarded, the policy's view) choosing the variant wherever a key's responses vary.
 */
export class RequestStore {
  readonly #store: EntryStore;
  readonly #request: HeaderReader;

  constructor(store: EntryStore, request: HeaderReader) {
    this.#store = store;
    this.#request = request;
  }

  get maxBodyBytes(): number {
    return this.#store.maxBodyBytes;
  }

  lookup(name: string, key: string, now: number): Promise<Lookup> {
    return this.#store.lookup(name, key, this.#request, now);
  }

  get(name: string, key: string, now: number): Promise<StoredEntry | null> {
    return this.#store.get(name, key, now, this.#request);
  }

  put(
    name: string,
    key: string,
    meta: EntryMeta,
    body: StoredBody,
    now: number,
    purgeUrls: readonly string[],
  ): Promise<PutResult> {
    return this.#store.put(name, key, meta, body, now, purgeUrls);
  }

  delete(name: string): Promise<boolean> {
    return this.#store.delete(name);
  }
}
