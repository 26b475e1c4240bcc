/**
 * Purge by URL, tag (Surrogate-Key / Cache-Tag) or URL prefix, everywhere a copy can be:
 *
 *   1. the Redis tier every node shares — first, so that no node re-reads the old copy
 *      from it after purging its own;
 *   2. this node's memory and disk, and every other node's, told through Redis pub/sub;
 *   3. the edge, through Cloudflare's purge API — last, so that an edge miss right after
 *      it does not fetch the old copy from a shield.
 *
 * Hard purge deletes; soft purge marks stale (as Fastly's soft purge does), so the next
 * request revalidates while stale-while-revalidate and stale-if-error still protect the
 * origin. The answer says what each tier did.
 */

import { z } from "zod";
import { normaliseUrl } from "../../core/key/index.ts";
import type { ShieldContext } from "../context.ts";
import { variantUrlsFor } from "../image/route.ts";
import type { PurgeSelector } from "../store/purge-tiers.ts";

const absoluteUrl = z
  .string()
  .max(8192, "must be at most 8192 characters")
  .refine((s) => /^https?:\/\//i.test(s) && URL.canParse(s), "must be an absolute http(s) URL");

export const PurgeSchema = z
  .strictObject({
    urls: z.array(absoluteUrl).max(10_000).optional(),
    tags: z.array(z.string().min(1).max(1024)).max(10_000).optional(),
    prefixes: z.array(absoluteUrl).max(1_000).optional(),
    soft: z.boolean().default(false),
  })
  .refine((p) => (p.urls?.length ?? 0) + (p.tags?.length ?? 0) + (p.prefixes?.length ?? 0) > 0, {
    message: "name at least one of urls, tags, prefixes",
  });

export type PurgeRequest = z.output<typeof PurgeSchema>;

/** What a purge did in each place: counts, or why a place was not reached. */
export interface PurgeReport {
  /** Stored responses purged on this node (memory and disk). */
  readonly local: number;
  /** Other nodes the purge was sent to; null without Redis. */
  readonly nodes: number | "down" | null;
  /** Responses purged from the shared Redis tier; null without Redis. */
  readonly redis: number | "down" | null;
  /** Cloudflare's answer for the edge; "off" when no zone is configured. */
  readonly edge: "ok" | "off" | `error: ${string}`;
}

/** The purge request with every URL and prefix normalised as the cache key reads them. */
export function selectorOf(ctx: ShieldContext, request: PurgeRequest): PurgeSelector {
  const spec = ctx.config.key;
  const urls = new Set<string>();
  // A transform URL purges the variant it names, however its options are spelt.
  for (const href of request.urls ?? []) {
    for (const url of variantUrlsFor(ctx.config.images, normaliseUrl(href, spec))) urls.add(url);
  }
  return {
    urls: [...urls],
    tags: request.tags ?? [],
    prefixes: (request.prefixes ?? []).map((p) => normaliseUrl(p, spec).url),
  };
}

export async function purgeEverywhere(
  ctx: ShieldContext,
  request: PurgeRequest,
): Promise<PurgeReport> {
  const selector = selectorOf(ctx, request);
  const soft = request.soft;
  const redisTier = ctx.tiers.redis;
  const redis = redisTier === null ? null : await redisTier.purge(selector, soft, ctx.now());
  const [local, nodes] = await Promise.all([
    ctx.purgeLocal(selector, soft),
    ctx.cluster === null ? null : ctx.cluster.broadcastPurge(selector, soft),
  ]);
  const edge = ctx.cloudflare === null ? "off" : await ctx.cloudflare.purge(selector);
  return { local, nodes, redis, edge };
}
