/**
 * The tiers of one node, built from its config: memory always; disk when
 * `shield.disk` is set; the Redis tier every node shares when `shield.redis` is. With
 * memory alone the cache path uses the memory tier itself, so a node without lower tiers
 * pays nothing for them on a hit.
 */
import type { Logger } from "pino";
import type { ShieldConfig } from "../../core/config/index.ts";
import { RedisLink } from "../cluster/redis-link.ts";
import { DiskTier } from "./disk-tier.ts";
import type { LowerTier, LowerTierHealth } from "./lower-tier.ts";
import { MemoryTier } from "./memory-tier.ts";
import { indexedHead, PurgeIndex } from "./purge-index.ts";
import { RedisTier } from "./redis-tier.ts";
import type { Tier, TierEvents } from "./tier.ts";
import { type LowerTierObserver, TieredStore } from "./tiered-store.ts";

export interface NodeTiers {
  /** What the cache path reads and writes: memory, or memory in front of the others. */
  readonly tier: Tier;
  readonly memory: MemoryTier;
  /** Which memory keys answer to a URL, tag or prefix. */
  readonly memoryIndex: PurgeIndex;
  readonly disk: DiskTier | null;
  readonly diskIndex: PurgeIndex | null;
  readonly redis: RedisTier | null;
  /** This node's connection to Redis (the tier, leases, purge messages share it). */
  readonly link: RedisLink | null;
  /** Health of each tier, as /__shield/health reports it. */
  health(): { memory: object; disk: LowerTierHealth | null; redis: LowerTierHealth | null };
  /** Every write to a lower tier started so far has landed. */
  settled(): Promise<void>;
  /** Before a purge (store/purge-tiers.ts LocalTiers.fence). */
  fence(): Promise<void>;
  close(): Promise<void>;
}

export interface NodeTierParts {
  readonly log: Logger;
  readonly now: () => number;
  /** Told of memory evictions (metrics). */
  readonly memoryEvents: TierEvents;
  readonly observer?: LowerTierObserver | undefined;
}

export function buildTiers(shield: ShieldConfig, parts: NodeTierParts): NodeTiers {
  const memoryIndex = new PurgeIndex();
  const memory = new MemoryTier({
    maxBytes: shield.memory.maxBytes,
    maxObjectBytes: shield.memory.maxObjectBytes,
    events: [memoryIndex, parts.memoryEvents],
  });
  let disk: DiskTier | null = null;
  let diskIndex: PurgeIndex | null = null;
  if (shield.disk !== undefined) {
    const index = new PurgeIndex();
    diskIndex = index;
    disk = new DiskTier({
      dir: shield.disk.dir,
      maxBytes: shield.disk.maxBytes,
      maxObjectBytes: shield.disk.maxObjectBytes,
      // Bodies memory would hold are read whole; larger ones stream from the file.
      readWholeMaxBytes: shield.memory.maxObjectBytes,
      log: parts.log,
      now: parts.now,
      events: [
        {
          stored: (key, head) => index.stored(key, indexedHead(head)),
          removed: (key, head) => index.removed(key, indexedHead(head)),
        },
      ],
    });
  }
  let link: RedisLink | null = null;
  let redis: RedisTier | null = null;
  if (shield.redis !== undefined) {
    link = new RedisLink({
      url: shield.redis.url,
      timeoutMs: shield.redis.timeoutMs,
      log: parts.log,
    });
    redis = new RedisTier({
      link,
      keyPrefix: shield.redis.keyPrefix,
      maxObjectBytes: shield.redis.maxObjectBytes,
      now: parts.now,
    });
  }
  const lowers: LowerTier[] = [];
  if (disk !== null) lowers.push(disk);
  if (redis !== null) lowers.push(redis);
  const tiered = lowers.length === 0 ? null : new TieredStore(memory, lowers, parts.observer);
  return {
    tier: tiered ?? memory,
    memory,
    memoryIndex,
    disk,
    diskIndex,
    redis,
    link,
    health: () => ({
      memory: {
        state: "up",
        bytes: memory.bytes,
        entries: memory.entries,
        maxBytes: memory.maxBytes,
      },
      disk: disk?.health() ?? null,
      redis: redis?.health() ?? null,
    }),
    settled: () => tiered?.settled() ?? Promise.resolve(),
    fence: () => tiered?.fence() ?? Promise.resolve(),
    close: async () => {
      await tiered?.settled();
      await Promise.all([disk?.close(), redis?.close()]);
      await link?.close();
    },
  };
}
