/**
 * Everything one shield node holds, built once from the validated config: the tier and
 * its purge index, the collapser, the origin client and the origins' server pools,
 * metrics, and the image pipeline.
 * The clock is here so tests can move time (it is read once per request and passed
 * down). Each layer is handed the part it needs (cache/cache-deps.ts, …); only the
 * composition root (compose.ts) and the admin routes see the whole.
 */
import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { type CdnConfig, type CompiledConfig, compileConfig } from "../core/config/index.ts";
import { ImagePipeline } from "../image-pipeline/index.ts";
import type { CacheDeps } from "./cache/cache-deps.ts";
import { LargeObjects } from "./cache/slices.ts";
import { CloudflarePurger } from "./cluster/cloudflare-purge.ts";
import { Leases } from "./cluster/lease.ts";
import { PurgeBus } from "./cluster/purge-bus.ts";
import { LeaseClaims } from "./collapse/cluster-claim.ts";
import { Collapser } from "./collapse/collapser.ts";
import { HitForMiss } from "./collapse/hit-for-miss.ts";
import { TrustedProxies } from "./http/client-address.ts";
import type { ResolvedImage } from "./image/image-job.ts";
import { VariantTracker } from "./image/variants.ts";
import { RateLimits } from "./limit/rate-limits.ts";
import { ShieldMetrics, type TierStats } from "./observe/metrics.ts";
import { registerPoolMetrics } from "./observe/pool-metrics.ts";
import { OriginClient } from "./origin/client.ts";
import { OriginPools } from "./origin/pool.ts";
import { PreparedTargets } from "./request/prepare.ts";
import { buildTiers, type NodeTiers } from "./store/node-tiers.ts";
import type { PurgeIndex } from "./store/purge-index.ts";
import { type PurgeSelector, purgeLocal } from "./store/purge-tiers.ts";

export interface ShieldContext extends CacheDeps, CompiledConfig {
  /** Which keys stored in memory answer to a URL, a tag, a prefix (invalidation, purge). */
  readonly index: PurgeIndex;
  /** This node's tiers: memory, and disk and Redis when configured. */
  readonly tiers: NodeTiers;
  /** This node's part in the cluster (leases, purge messages); null without Redis. */
  readonly cluster: {
    readonly nodeId: string;
    /** Send a purge to every other node: how many received it, or "down". */
    broadcastPurge(selector: PurgeSelector, soft: boolean): Promise<number | "down">;
  } | null;
  /** Purges the edge through Cloudflare's API; null when no zone is configured. */
  readonly cloudflare: CloudflarePurger | null;
  /** Purge this node's memory and disk: how many stored responses were touched. */
  purgeLocal(selector: PurgeSelector, soft: boolean): Promise<number>;
  /**
   * After an unsafe method changed these URLs (RFC 9111 §4.4): purge them from disk, the
   * Redis tier and every other node, in the background. Absent on a node with memory
   * alone (the caller purges memory itself).
   */
  readonly invalidate?: ((urls: readonly string[]) => void) | undefined;
  /** Connections to origin servers; requests go through `pools`, which chooses the server. */
  readonly origin: OriginClient;
  /** Each origin's servers: balancing, health, breakers, retries (origin/pool.ts). */
  readonly pools: OriginPools;
  readonly metrics: ShieldMetrics;
  readonly log: Logger;
  /** Proxies whose X-Forwarded-For this node believes. */
  readonly proxies: TrustedProxies;
  /** shield.rateLimits and their token buckets (limit/rate-limits.ts). */
  readonly limits: RateLimits;
  /** Request targets already parsed, normalised and routed. */
  readonly targets: PreparedTargets;
  /**
   * The image pipeline (sharp, its queue), the bound on variants per source, and
   * transform URLs already resolved (by URL and Accept).
   */
  readonly images: {
    readonly pipeline: ImagePipeline;
    readonly variants: VariantTracker;
    readonly resolved: LRUCache<string, ResolvedImage>;
  };
}

/** What a remembered transform URL costs beyond its strings: its objects, the LRU's node. */
const RESOLVED_OVERHEAD = 600;

function resolvedSize(resolved: ResolvedImage, memoKey: string): number {
  const job = resolved.job;
  const variant = resolved.variant;
  const chars = memoKey.length + variant.path.length + variant.url.length + job.id.length;
  const more =
    variant.host.length + variant.query.length + job.sourceTarget.length + job.sourceUrl.length;
  return RESOLVED_OVERHEAD + 2 * (chars + more + job.sourcePath.length);
}

export interface ContextParts {
  readonly log: Logger;
  readonly now: () => number;
  /** Cloudflare API token for purging the edge (Zone → Cache Purge). */
  readonly cloudflareToken?: string | undefined;
}

export function buildContext(config: CdnConfig, parts: ContextParts): ShieldContext {
  const { shield } = config;
  const tables = shield.tables;
  let metrics: ShieldMetrics | undefined;
  const tiers = buildTiers(shield, {
    log: parts.log,
    now: parts.now,
    memoryEvents: {
      stored() {},
      removed(_key, _obj, reason) {
        if (reason === "evict") metrics?.evictions.labels("memory").inc();
      },
    },
    observer: {
      read(tier, result, seconds, bytes) {
        metrics?.tierReads.labels(tier, result).inc();
        metrics?.tierReadSeconds.labels(tier).observe(seconds);
        if (bytes > 0) metrics?.tierHitBytes.labels(tier).inc(bytes);
      },
    },
  });
  metrics = new ShieldMetrics(() => tierStats(tiers));
  const counted = metrics;
  const compiled = compileConfig(config);
  const hitForMiss = new HitForMiss(tables.hitForMissBytes);
  const tier = tiers.tier;
  const nodeId = `${shield.name}-${randomUUID().slice(0, 8)}`;
  const leases =
    tiers.link === null || shield.redis === undefined
      ? null
      : new Leases({
          link: tiers.link,
          keyPrefix: shield.redis.keyPrefix,
          timeoutMs: Math.max(250, shield.redis.timeoutMs * 4),
        });
  const origin = shield.origin;
  const claims =
    leases === null || shield.redis === undefined
      ? undefined
      : new LeaseClaims({
          leases,
          lookup: async (job) => tier.lookup(job.primary, job.request.headers),
          leaseMs: shield.redis.leaseMs,
          // As long as this node's own fetch could have taken to start answering.
          maxWaitMs: origin.queueTimeoutMs + origin.connectTimeoutMs + origin.headersTimeoutMs,
          now: parts.now,
          onWait: (result) => counted.leaseWaits.labels(result).inc(),
        });
  const collapser = new Collapser(
    {
      tier,
      policy: compiled.policy,
      rules: compiled.rules,
      hitForMiss,
      hitForMissMs: shield.collapse.uncacheableTtl * 1000,
      maxBodyBytes: shield.origin.maxBodyBytes,
      now: parts.now,
      bodyFailed: (error) => counted.originErrors.labels(error.kind).inc(),
      cluster: claims,
    },
    {
      maxWaiters: shield.collapse.maxWaiters,
      log: parts.log,
      onCollapsed: () => counted.collapsed.inc(),
      onInternalError: () => counted.internalErrors.inc(),
    },
  );
  const variants = new VariantTracker(
    config.images.limits.maxVariantsPerSource,
    tables.imageVariantsBytes,
  );
  const local = (selector: PurgeSelector, soft: boolean) =>
    purgeLocal(tiers, selector, soft, parts.now(), (url) => variants.forget(url));
  let cluster: ShieldContext["cluster"] = null;
  if (tiers.link !== null && shield.redis !== undefined) {
    const bus = new PurgeBus({
      link: tiers.link,
      keyPrefix: shield.redis.keyPrefix,
      nodeId,
      onPurge: (message) => {
        void local(message, message.soft).catch((err: unknown) =>
          parts.log.warn({ err }, "purge from another node failed"),
        );
      },
      onMessage: (direction) => counted.purgeMessages.labels(direction).inc(),
    });
    cluster = {
      nodeId,
      broadcastPurge: (selector, soft) =>
        bus.broadcast({
          urls: selector.urls ?? [],
          tags: selector.tags ?? [],
          prefixes: selector.prefixes ?? [],
          soft,
        }),
    };
  }
  const client = new OriginClient(shield.origin);
  const pools = new OriginPools(config.origins, client, {
    retryBudget: shield.origin.retryBudget,
    userAgent: `edge-cdn-shield/${shield.name} health-check`,
    changed: (originName, server, state) => {
      const back = state === "up" || state === "healthy";
      const fields = { origin: originName, server, state };
      if (back) parts.log.info(fields, "origin server back in its pool");
      else parts.log.warn(fields, "origin server out of its pool");
    },
  });
  registerPoolMetrics(metrics.registry, () => pools.stats());
  const zone = shield.cloudflare;
  const cloudflare =
    zone === undefined
      ? null
      : new CloudflarePurger({
          zoneId: zone.zoneId,
          apiBase: zone.apiBase,
          token: parts.cloudflareToken,
        });
  return {
    ...compiled,
    name: shield.name,
    key: config.key,
    tier,
    index: tiers.memoryIndex,
    tiers,
    cluster,
    cloudflare,
    purgeLocal: local,
    invalidate:
      tiers.tier === tiers.memory
        ? undefined
        : (urls) => {
            const selector = { urls };
            const work = async () => {
              // The shared tier first: a node must not re-read what it just purged.
              await tiers.redis?.purge(selector, false, parts.now());
              await Promise.all([local(selector, false), cluster?.broadcastPurge(selector, false)]);
            };
            void work().catch((err: unknown) => parts.log.warn({ err }, "invalidation failed"));
          },
    collapser,
    // Slices of 1 MiB, or what the memory tier stores when that is less; the memo of
    // objects too large to store whole takes at most 1 MiB.
    largeObjects: new LargeObjects(
      Math.min(1024 * 1024, shield.memory.maxObjectBytes),
      1024 * 1024,
    ),
    origin: client,
    pools,
    metrics,
    log: parts.log,
    now: parts.now,
    proxies: new TrustedProxies(shield.trustedProxies),
    limits: new RateLimits(shield.rateLimits, tables.rateLimitBytes, {
      name: shield.name,
      bypass: compiled,
      now: parts.now,
      limited: (rule) => counted.rateLimited.labels(rule).inc(),
    }),
    targets: new PreparedTargets(tables.targetsBytes),
    images: {
      pipeline: new ImagePipeline(config.images),
      variants,
      resolved: new LRUCache({ maxSize: tables.imageUrlsBytes, sizeCalculation: resolvedSize }),
    },
  };
}

/** Each tier's size and state, for the metrics scrape. */
function tierStats(tiers: NodeTiers): TierStats[] {
  const health = tiers.health();
  const out: TierStats[] = [
    { tier: "memory", bytes: tiers.memory.bytes, entries: tiers.memory.entries, up: 1, errors: 0 },
  ];
  for (const [tier, h] of [
    ["disk", health.disk],
    ["redis", health.redis],
  ] as const) {
    if (h === null) continue;
    const errors = ["writeErrors", "corrupt", "errors", "timeouts"]
      .map((name) => h[name])
      .reduce<number>((sum, n) => sum + (typeof n === "number" ? n : 0), 0);
    out.push({ tier, bytes: h.bytes, entries: h.entries, up: h.state === "up" ? 1 : 0, errors });
  }
  return out;
}
