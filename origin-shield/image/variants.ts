/**
 * The bound on distinct variants per source image (images.limits.maxVariantsPerSource):
 * the variant ids each source has been transformed to, per node. A variant already made
 * always passes; a new one beyond the bound is refused, so no client can fill the cache
 * and the CPU with endless distinct transforms of one image. The table itself is
 * bounded (least recently used sources are forgotten first).
 */
import { LRUCache } from "lru-cache";

/** Variant ids remembered over all sources. */
const MAX_IDS = 200_000;

export class VariantTracker {
  readonly #perSource: number;
  readonly #bySource = new LRUCache<string, Set<string>>({
    maxSize: MAX_IDS,
    sizeCalculation: (ids) => ids.size + 1,
  });

  constructor(perSource: number) {
    this.#perSource = perSource;
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
    // Set again so the table's size accounts for the new id.
    this.#bySource.set(source, ids);
    return true;
  }
}
