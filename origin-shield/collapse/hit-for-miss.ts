/**
 * Keys whose last response could not be shared, until when (Varnish's hit-for-miss):
 * requests for them go to the origin at once instead of waiting on another request's
 * fetch only to make their own afterwards.
 *
 * A mark made by a response to a request with a cookie binds only requests with
 * cookies: the origin may have answered `private` because of that cookie, and anonymous
 * requests for the key should keep collapsing. Keys are as long as request URLs, so the
 * table is bounded in bytes, keys included (`shield.tables.hitForMissBytes`).
 */
import { LRUCache } from "lru-cache";

interface Mark {
  readonly until: number;
  readonly credentialed: boolean;
}

/** What one mark costs beyond its key's characters: the LRU's node and the value. */
const OVERHEAD = 160;

export class HitForMiss {
  readonly #lru: LRUCache<string, Mark>;
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
    this.#lru = new LRUCache<string, Mark>({
      maxSize: maxBytes,
      sizeCalculation: (_mark, key) => OVERHEAD + key.length * 2,
    });
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  /** Remember `key` as uncacheable until `until` (ms) for requests like this one. */
  mark(key: string, until: number, credentialed: boolean): void {
    if (credentialed && this.#lru.peek(key)?.credentialed === false) return;
    this.#lru.set(key, { until, credentialed });
  }

  /** Whether a request (with cookies or not) for `key` should skip collapsing at `now`. */
  holds(key: string, now: number, credentialed: boolean): boolean {
    const mark = this.#lru.get(key);
    if (mark === undefined) return false;
    if (now >= mark.until) {
      this.#lru.delete(key);
      return false;
    }
    return credentialed || !mark.credentialed;
  }

  /** A response for `key` was shareable: stop marking it. */
  clear(key: string): void {
    this.#lru.delete(key);
  }
}
