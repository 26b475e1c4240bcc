/**
 * The composition root: the one place that knows every route and wires each to what it
 * needs. Transports (transport/node.ts, transport/web.ts) call only the handler made
 * here.
 *
 *   prepare (request/prepare.ts) → rate limits, when configured (limit/rate-limits.ts) →
 *     transform URL: the image route (image/route.ts), handed a way to fetch sources ·
 *     other methods: pass through, then invalidate (pass/) ·
 *     bypass cookie or rule: pass through ·
 *     a plain image path negotiated to AVIF or WebP: its conversion (image/convert.ts) ·
 *     GET/HEAD: compression (compress/route.ts) over the cache path (cache/cache-path.ts),
 *       handed the origin as its fetcher
 */
import { isSafeMethod, requestDisposition } from "../core/policy/index.ts";
import { type CacheRequest, serveFromCache } from "./cache/cache-path.ts";
import { Compression } from "./compress/route.ts";
import type { ShieldContext } from "./context.ts";
import { conversionFor, serveConversion } from "./image/convert.ts";
import type { ImageRouteDeps } from "./image/route.ts";
import { serveImage } from "./image/route.ts";
import { originFetcher } from "./origin/fetcher.ts";
import { invalidateAfterUnsafe } from "./pass/invalidate.ts";
import { passThrough } from "./pass/pass-through.ts";
import { prepareRequest } from "./request/prepare.ts";
import type { ShieldResponse } from "./respond.ts";
import type { RoutedRequest, ShieldRequest } from "./types.ts";

/** The shield's request handling, transport-neutral: (request) → response data. */
export type ShieldHandler = (req: ShieldRequest) => ShieldResponse | Promise<ShieldResponse>;

export function composeHandler(ctx: ShieldContext): ShieldHandler {
  const transformPrefix = ctx.config.images.transformPrefix;

  /** A plain GET or HEAD through the cache, filled from the origin. */
  const fromCache = (routed: RoutedRequest, noStale = false, known?: CacheRequest["known"]) =>
    serveFromCache(ctx, {
      method: routed.method,
      headers: routed.reader,
      url: routed.url,
      noStale,
      known,
      fetch: originFetcher(ctx, routed),
    });

  /** br and gzip copies of what the plain path serves, made and stored once each. */
  const compression = new Compression({
    cache: ctx,
    memory: ctx.tiers.memory,
    config: ctx.config.compression,
    maxBytes: ctx.config.shield.memory.maxObjectBytes,
    registry: ctx.metrics.registry,
    plain: fromCache,
    failed: (err) => ctx.log.error({ err }, "re-encode failed inside the shield"),
  });

  const images: ImageRouteDeps = {
    cache: ctx,
    images: ctx.config.images,
    variants: ctx.images.variants,
    resolved: ctx.images.resolved,
    pipeline: ctx.images.pipeline,
    maxInputBytes: ctx.config.images.limits.maxInputBytes,
    fallback: ctx.config.images.fallback,
    metrics: ctx.metrics,
    targetedCacheControl: ctx.policy.targetedCacheControl,
    // A variant's source, asked for on the variant's host as a browser without a cookie
    // would ask, through the cache like any object, and never answered stale.
    fetchSource: (routed, job, accept) => {
      const source = prepareRequest(ctx, {
        method: "GET",
        target: job.sourceTarget,
        headers: {
          host: routed.authority,
          accept,
          "x-forwarded-proto": routed.proto,
          // The same trace as the request it is made for (observe/trace.ts).
          traceparent: routed.client.headers.traceparent,
        },
        remoteAddress: routed.client.remoteAddress,
        secure: routed.proto === "https",
        body: null,
      });
      return "status" in source ? source : fromCache(source, true);
    },
  };

  const invalidation = {
    key: ctx.key,
    tier: ctx.tier,
    index: ctx.index,
    elsewhere: ctx.invalidate,
  };

  /** A routed request, to the route that serves it. */
  const route = (routed: RoutedRequest): ShieldResponse | Promise<ShieldResponse> => {
    if (routed.url.path.startsWith(transformPrefix)) return serveImage(images, routed);
    const method = routed.method;
    const disposition = requestDisposition(
      {
        method,
        path: routed.url.path,
        cookie: ctx.bypassCookies.length > 0 ? routed.reader.get("cookie") : null,
      },
      ctx,
    );
    if (disposition.kind === "pass") {
      // Other methods go with their body, and a non-error answer to an unsafe one
      // invalidates what is stored for the URL (RFC 9111 §4.4).
      const unsafe = disposition.fwd === "method" && !isSafeMethod(method);
      return passThrough(ctx, routed, {
        fwd: disposition.fwd,
        detail: disposition.detail,
        body: disposition.fwd === "method",
        onResponse: unsafe
          ? (status, headers) =>
              invalidateAfterUnsafe(invalidation, method, routed.url.url, status, headers)
          : undefined,
      });
    }
    // A plain image path whose client takes AVIF or WebP: converted from the source.
    const conversion = conversionFor(images, routed);
    if (conversion !== null) return serveConversion(images, routed, conversion);
    return compression.serve(routed);
  };

  const limits = ctx.limits;
  return (req) => {
    const routed = prepareRequest(ctx, req);
    if ("status" in routed) return routed;
    return limits.active ? limits.admit(routed, route) : route(routed);
  };
}
