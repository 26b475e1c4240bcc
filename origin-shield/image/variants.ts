/**
 * The bound on distinct variants per source image (images.limits.maxVariantsPerSource):
 * the variant ids each source has been transformed to, per node. A variant already made
 * always passes; a new one beyond the bound is refused, so no client can fill the cache
 * and the CPU with endless distinct transforms of one image. Source URLs come from
 * clients, so the table itself is bounded in bytes (`shield.tables.imageVariantsBytes`),
 * least recently used sources forgotten first.
 */
import { LRUCache } from "lru-cache";

/** Bytes one source's record costs beyond its strings: the LRU's node, the Set. */
const SOURCE_OVERHEAD = 300;
/** And one id in its Set. */
const ID_OVERHEAD = 60;

export class VariantTracker {
  readonly #perSource: number;
  readonly #bySource: LRUCache<string, Set<string>>;
  readonly maxBytes: number;

  constructor(perSource: number, maxBytes: number) {
    this.#perSource = perSource;
    this.maxBytes = maxBytes;
    this.#bySource = new LRUCache<string, Set<string>>({
      maxSize: maxBytes,
      sizeCalculation: (ids, source) => {
        let n = SOURCE_OVERHEAD + source.length * 2;
        for (const id of ids) n += ID_OVERHEAD + id.length * 2;
        return n;
      },
    });
  }

  get bytes(): number {
    return this.#bySource.calculatedSize;
  }

  /** Whether `source` may have variant `id` (recording it when new). */
  admit(source: string, id: string): boolean {
    const ids = this.#bySource.get(source);
    if (ids === undefined) {
      this.#bySource.set(source, new Set([id]));
      return true;
    }
    if (ids.has(id)) return true;
    if (ids.size >= this.#perSource) return false;
    ids.add(id);
    // Out and in again: lru-cache does not measure a value set again under its key, so
    // the table's size would not count the new id.
    this.#bySource.delete(source);
    this.#bySource.set(source, ids);
    return true;
  }

  /** Start `source`'s count again: it was purged, so its variants are gone or stale. */
  forget(source: string): void {
    this.#bySource.delete(source);
  }
}
