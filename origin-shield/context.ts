/**
 * Everything one shield node holds, built once from the validated config and passed to
 * the request handling code. The clock is here so tests can move time (it is read once
 * per request and passed down).
 */
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { CdnConfig } from "../core/config/index.ts";
import type { PolicyOptions } from "../core/policy/index.ts";
import { policyOptions } from "../core/policy/index.ts";
import { compileOrigins, type OriginRouter } from "../core/routing/index.ts";
import { type CompiledRules, compileRules } from "../core/rules/index.ts";
import { ImagePipeline } from "../image-pipeline/index.ts";
import type { Flight } from "./collapse/flight.ts";
import { UncacheableKeys } from "./collapse/uncacheable.ts";
import { TrustedProxies } from "./http/client-address.ts";
import type { ResolvedImage } from "./image/route.ts";
import { VariantTracker } from "./image/variants.ts";
import type { ShieldMetrics } from "./observe/metrics.ts";
import { OriginClient } from "./origin/client.ts";
import type { MemoryTier } from "./store/memory.ts";

export interface ShieldContext {
  readonly config: CdnConfig;
  readonly name: string;
  readonly options: PolicyOptions;
  readonly rules: CompiledRules;
  readonly router: OriginRouter;
  readonly store: MemoryTier;
  readonly origin: OriginClient;
  readonly metrics: ShieldMetrics;
  readonly log: Logger;
  readonly now: () => number;
  /** In-flight origin fetches by primary key: the collapsing table. */
  readonly flights: Map<string, Flight>;
  /** Keys whose last response could not be shared, until when (ms): hit-for-miss. */
  readonly uncacheable: UncacheableKeys;
  /** Proxies whose X-Forwarded-For this node believes. */
  readonly proxies: TrustedProxies;
  /** Background work (revalidations) still running; drained on shutdown. */
  readonly background: Set<Promise<unknown>>;
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

function resolvedSize(r: ResolvedImage, memoKey: string): number {
  const j = r.job;
  const chars = memoKey.length + r.path.length + r.url.length + j.id.length + j.sourceTarget.length;
  return RESOLVED_OVERHEAD + 2 * (chars + j.sourceUrl.length + j.sourcePath.length);
}

export function buildContext(
  config: CdnConfig,
  parts: { store: MemoryTier; metrics: ShieldMetrics; log: Logger; now: () => number },
): ShieldContext {
  const tables = config.shield.tables;
  return {
    config,
    name: config.shield.name,
    options: policyOptions(config),
    rules: compileRules(config.rules),
    router: compileOrigins(config.origins),
    origin: new OriginClient(config.shield.origin),
    flights: new Map(),
    uncacheable: new UncacheableKeys(tables.hitForMissBytes),
    proxies: new TrustedProxies(config.shield.trustedProxies),
    background: new Set(),
    images: {
      pipeline: new ImagePipeline(config.images),
      variants: new VariantTracker(
        config.images.limits.maxVariantsPerSource,
        tables.imageVariantsBytes,
      ),
      resolved: new LRUCache({ maxSize: tables.imageUrlsBytes, sizeCalculation: resolvedSize }),
    },
    ...parts,
  };
}
