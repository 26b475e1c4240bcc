/**
 * The app factory: a shield that does not listen. Tests call `shield.app.request()` (the
 * Hono app serves admin routes and, behind them, the proxy); `main.ts` serves
 * `shield.listener` on a socket.
 */
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { Logger } from "pino";
import type { CdnConfig } from "../core/config/index.ts";
import { guardMetrics } from "./admin/metrics-guard.ts";
import { adminRoutes } from "./admin/routes.ts";
import { composeHandler } from "./compose.ts";
import { buildContext, type ShieldContext } from "./context.ts";
import { createLogger } from "./observe/log.ts";
import { behindGate, EdgeGate } from "./request/edge-auth.ts";
import { type NodeListener, nodeListener } from "./transport/node.ts";
import { handleWeb } from "./transport/web.ts";

export interface ShieldOptions {
  readonly config: CdnConfig;
  /** The clock (ms since the epoch); tests move it. Default Date.now. */
  readonly now?: (() => number) | undefined;
  readonly logger?: Logger | undefined;
  /** Cloudflare API token for purging the edge (CLOUDFLARE_API_TOKEN). */
  readonly cloudflareToken?: string | undefined;
}

export interface Shield {
  readonly app: Hono;
  /** For node:http `createServer`: proxy traffic on the fast path, admin through Hono. */
  readonly listener: NodeListener;
  readonly context: ShieldContext;
  /** Resolves when no origin fetch or background revalidation is running. */
  drain(): Promise<void>;
  /** Close the origin connection pools, the disk tier's files and the Redis connections. */
  close(): Promise<void>;
}

type NodeBindings = { incoming?: { socket?: { remoteAddress?: string } } };

export function createShield(options: ShieldOptions): Shield {
  const { config } = options;
  const log = options.logger ?? createLogger("silent", config.shield.name);
  const ctx = buildContext(config, {
    log,
    now: options.now ?? Date.now,
    cloudflareToken: options.cloudflareToken,
  });
  const { metrics, images, collapser } = ctx;
  const queue = images.pipeline.queue;
  metrics.imageQueue = () => ({ running: queue.running, queued: queue.queued });
  const hitForMiss = collapser.hitForMiss;
  // With a secret, only requests the edge signed reach the proxy (request/edge-auth.ts).
  const edgeAuth = config.shield.edgeAuth;
  const gate = edgeAuth === undefined ? null : new EdgeGate(edgeAuth, ctx.now, ctx.name);
  metrics.tables = () => [
    ...(gate === null
      ? []
      : [{ table: "edge_signatures", bytes: gate.bytes, maxBytes: gate.maxBytes }]),
    { table: "hit_for_miss", bytes: hitForMiss.bytes, maxBytes: hitForMiss.maxBytes },
    { table: "targets", bytes: ctx.targets.bytes, maxBytes: ctx.targets.maxBytes },
    { table: "rate_limits", bytes: ctx.limits.table.bytes, maxBytes: ctx.limits.table.maxBytes },
    { table: "image_variants", bytes: images.variants.bytes, maxBytes: images.variants.maxBytes },
    {
      table: "image_urls",
      bytes: images.resolved.calculatedSize,
      maxBytes: config.shield.tables.imageUrlsBytes,
    },
  ];

  const handle = gate === null ? composeHandler(ctx) : behindGate(gate, composeHandler(ctx));
  const app = new Hono<{ Bindings: NodeBindings }>();
  if (gate !== null) guardMetrics(app as unknown as Hono, gate, config.shield.purgeToken);
  adminRoutes(app as unknown as Hono, ctx, config.shield.purgeToken);
  app.all("*", (c) => handleWeb(ctx, handle, c.req.raw, c.env?.incoming?.socket?.remoteAddress));

  const listener = nodeListener(ctx, handle, getRequestListener(app.fetch));
  return {
    app: app as unknown as Hono,
    listener,
    context: ctx,
    drain: async () => {
      await collapser.drain();
      await ctx.tiers.settled();
    },
    close: async () => {
      await Promise.all([ctx.pools.close(), ctx.origin.close(), ctx.tiers.close()]);
    },
  };
}
