/**
 * Soft purge (as Fastly's): a response is not deleted but made stale now, so the next
 * request revalidates it while stale-while-revalidate and stale-if-error still shield the
 * origin. One function, so memory, disk and the shared Redis tier shift a head alike.
 */
import type { EntryMeta } from "../../core/policy/index.ts";

/**
 * `meta` made stale at `now`: freshness ends now and the stale windows (RFC 5861: counted
 * from when a response becomes stale) start now. Moving only freshUntil would keep the
 * windows' absolute ends, and a response without stale-while-revalidate could then be
 * served stale for the rest of its old lifetime. A response already stale is unchanged;
 * deleteAt is kept, so the entry stays available for revalidation as long as before.
 */
export function softPurgedMeta(meta: EntryMeta, now: number): EntryMeta {
  const shift = Math.max(0, meta.freshUntil - now);
  if (shift === 0) return meta;
  return {
    ...meta,
    freshUntil: meta.freshUntil - shift,
    staleWhileRevalidateUntil: meta.staleWhileRevalidateUntil - shift,
    staleIfErrorUntil: meta.staleIfErrorUntil - shift,
  };
}
