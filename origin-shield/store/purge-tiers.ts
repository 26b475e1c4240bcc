/**
 * Purge in this node's own tiers (memory, and disk when configured), by normalised URL,
 * tag or URL prefix. Hard purge deletes; soft purge marks stale (store/soft-purge.ts),
 * so the next request revalidates while the stale windows still protect the origin. The
 * shared Redis tier, the other nodes and the edge are reached by the caller
 * (admin/purge.ts); this is what every node runs when a purge reaches it.
 */
import type { LowerTier } from "./lower-tier.ts";
import type { MemoryTier } from "./memory-tier.ts";
import type { PurgeIndex } from "./purge-index.ts";
import { softPurgedMeta } from "./soft-purge.ts";
import { withMeta } from "./stored-object.ts";

/** What a purge names, every URL and prefix already normalised (core/key). */
export interface PurgeSelector {
  readonly urls?: readonly string[] | undefined;
  readonly tags?: readonly string[] | undefined;
  readonly prefixes?: readonly string[] | undefined;
}

/** This node's own tiers, each with the index of what it holds. */
export interface LocalTiers {
  readonly memory: MemoryTier;
  readonly memoryIndex: PurgeIndex;
  readonly disk: LowerTier | null;
  readonly diskIndex: PurgeIndex | null;
  /**
   * Called first: stop promoting reads that began before the purge, and let writes in
   * flight land, so that the purge sees (and removes) what they store.
   */
  fence(): Promise<void>;
}

/** Every key an index holds for what the selector names. */
export function keysFor(index: PurgeIndex, selector: PurgeSelector): Set<string> {
  const keys = new Set<string>();
  for (const url of selector.urls ?? []) for (const k of index.keysForUrl(url)) keys.add(k);
  for (const tag of selector.tags ?? []) for (const k of index.keysForTag(tag)) keys.add(k);
  for (const prefix of selector.prefixes ?? []) {
    for (const k of index.keysForPrefix(prefix)) keys.add(k);
  }
  return keys;
}

/**
 * Purge what the selector names from memory and disk. Returns how many stored responses
 * it touched (one held in both tiers counts once); `purged` hears each one's URL.
 */
export async function purgeLocal(
  tiers: LocalTiers,
  selector: PurgeSelector,
  soft: boolean,
  now: number,
  purged: (url: string) => void = () => {},
): Promise<number> {
  await tiers.fence();
  const touched = new Set<string>();
  // Disk first, memory last: a request that arrives meanwhile may find the disk copy and
  // promote it to memory, and the memory step, which runs after, removes that too.
  const disk = tiers.disk;
  if (disk !== null && tiers.diskIndex !== null) {
    const work: Promise<void>[] = [];
    for (const key of keysFor(tiers.diskIndex, selector)) {
      touched.add(key);
      work.push(soft ? softPurgeBelow(disk, key, now, purged) : disk.delete(key));
    }
    await Promise.all(work);
  }
  for (const key of keysFor(tiers.memoryIndex, selector)) {
    const obj = tiers.memory.peek(key);
    if (obj === undefined) continue;
    touched.add(key);
    purged(obj.url);
    if (soft) tiers.memory.replace(key, withMeta(obj, softPurgedMeta(obj.meta, now)));
    else tiers.memory.delete(key);
  }
  // Reads from below still in flight began before the purge ended: none is promoted.
  await tiers.fence();
  return touched.size;
}

async function softPurgeBelow(
  tier: LowerTier,
  key: string,
  now: number,
  purged: (url: string) => void,
): Promise<void> {
  const record = await tier.get(key);
  if (record === undefined || record.kind === "vary") return;
  purged(record.head.id.url);
  const head = record.head;
  await tier.replaceHead(key, { meta: softPurgedMeta(head.meta, now), id: head.id });
}
