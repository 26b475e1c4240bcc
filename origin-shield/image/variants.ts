/**
 * The bound on distinct variants per source image (images.limits.maxVariantsPerSource):
 * the variant ids each source has been transformed to, per node. A variant already made
 * always passes; a new one beyond the bound is refused, so no client can fill the cache
 * and the CPU with endless distinct transforms of one image. The table itself is
 * bounded (least recently used sources are forgotten first).
 */
import { LRUCache } from "lru-cache";

/** Variant ids remembered over all sources, by default. */
const MAX_IDS = 200_000;

export class VariantTracker {
  readonly #perSource: number;
  readonly #bySource: LRUCache<string, Set<string>>;

  constructor(perSource: number, maxIds = MAX_IDS) {
    this.#perSource = perSource;
    this.#bySource = new LRUCache<string, Set<string>>({
      maxSize: maxIds,
      sizeCalculation: (ids) => ids.size + 1,
    });
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
