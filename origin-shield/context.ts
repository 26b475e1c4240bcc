/**
 * Everything one shield node holds, built once from the validated config: the tier and
 * its purge index, the collapser, the origin client, metrics, and the image pipeline.
 * The clock is here so tests can move time (it is read once per request and passed
 * down). Each layer is handed the part it needs (cache/cache-deps.ts, …); only the
 * composition root (compose.ts) and the admin routes see the whole.
 */
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { type CdnConfig, type CompiledConfig, compileConfig } from "../core/config/index.ts";
import { ImagePipeline } from "../image-pipeline/index.ts";
import type { CacheDeps } from "./cache/cache-deps.ts";
import { Collapser } from "./collapse/collapser.ts";
import { HitForMiss } from "./collapse/hit-for-miss.ts";
import { TrustedProxies } from "./http/client-address.ts";
import type { ResolvedImage } from "./image/image-job.ts";
import { VariantTracker } from "./image/variants.ts";
import { ShieldMetrics } from "./observe/metrics.ts";
import { OriginClient } from "./origin/client.ts";
import { PreparedTargets } from "./request/prepare.ts";
import { MemoryTier } from "./store/memory-tier.ts";
import { PurgeIndex } from "./store/purge-index.ts";

export interface ShieldContext extends CacheDeps, CompiledConfig {
  /** Which stored keys answer to a URL, a tag, a prefix (invalidation and purge). */
  readonly index: PurgeIndex;
  readonly origin: OriginClient;
  readonly metrics: ShieldMetrics;
  readonly log: Logger;
  /** Proxies whose X-Forwarded-For this node believes. */
  readonly proxies: TrustedProxies;
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

export function buildContext(
  config: CdnConfig,
  parts: { log: Logger; now: () => number },
): ShieldContext {
  const { shield } = config;
  const tables = shield.tables;
  const index = new PurgeIndex();
  let metrics: ShieldMetrics | undefined;
  const tier = new MemoryTier({
    maxBytes: shield.memory.maxBytes,
    maxObjectBytes: shield.memory.maxObjectBytes,
    events: [
      index,
      {
        stored() {},
        removed(_key, _obj, reason) {
          if (reason === "evict") metrics?.evictions.labels("memory").inc();
        },
      },
    ],
  });
  metrics = new ShieldMetrics(() => ({ bytes: tier.bytes, entries: tier.entries }));
  const counted = metrics;
  const compiled = compileConfig(config);
  const hitForMiss = new HitForMiss(tables.hitForMissBytes);
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
    },
    {
      maxWaiters: shield.collapse.maxWaiters,
      log: parts.log,
      onCollapsed: () => counted.collapsed.inc(),
      onInternalError: () => counted.internalErrors.inc(),
    },
  );
  return {
    ...compiled,
    name: shield.name,
    key: config.key,
    tier,
    index,
    collapser,
    origin: new OriginClient(shield.origin),
    metrics,
    log: parts.log,
    now: parts.now,
    proxies: new TrustedProxies(shield.trustedProxies),
    targets: new PreparedTargets(tables.targetsBytes),
    images: {
      pipeline: new ImagePipeline(config.images),
      variants: new VariantTracker(
        config.images.limits.maxVariantsPerSource,
        tables.imageVariantsBytes,
      ),
      resolved: new LRUCache({ maxSize: tables.imageUrlsBytes, sizeCalculation: resolvedSize }),
    },
  };
}
