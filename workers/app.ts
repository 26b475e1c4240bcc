/**
 * The edge Worker as a Hono app. `createEdgeApp()` builds it without binding anything,
 * so tests can give it a fake clock and a cache of their own; workers/index.ts exports
 * the one the runtime serves.
 */
import { Hono } from "hono";
import { type CdnConfig, ConfigError } from "../core/config/index.ts";
import { isAdmin } from "./admin/authorised.ts";
import { healthResponse } from "./admin/health.ts";
import type { Env } from "./bindings.ts";
import { EntryStore } from "./cache/entry-store.ts";
import { IsolateCache } from "./cache/isolate-cache.ts";
import { runtimeFromEnv, shieldSecret } from "./config/from-env.ts";
import type { EdgeRuntime } from "./config/runtime.ts";
import { misconfigured } from "./errors.ts";
import { handleEdgeRequest } from "./flow/handle.ts";
import { requestLine, startHop } from "./observe/request-log.ts";
import { overEdgeLimit } from "./request/rate-limit.ts";
import { NodeHealth } from "./upstream/node-health.ts";

export interface EdgeOptions {
  /** The clock, ms since the epoch, read once when a request arrives. Default Date.now. */
  readonly now?: () => number;
  /** The cache to use. Default `caches.default`, the zone's cache. */
  readonly cache?: () => Cache | Promise<Cache>;
  /** Where each request's log line goes (observe/request-log.ts). Default console.log. */
  readonly log?: (line: string) => void;
}

export type EdgeAppEnv = { Bindings: Env; Variables: { config: CdnConfig; runtime: EdgeRuntime } };

export function createEdgeApp(options: EdgeOptions = {}): Hono<EdgeAppEnv> {
  const clock = options.now ?? Date.now;
  const openCache = options.cache ?? (() => caches.default);
  const log = options.log ?? ((line: string) => console.log(line));
  // One store per configuration: its memory tier is sized by the config.
  const stores = new WeakMap<EdgeRuntime, EntryStore>();
  // One per app, and so per isolate in production: which shield nodes failed lately.
  const health = new NodeHealth();
  let cache: Cache | null = null;
  const app = new Hono<EdgeAppEnv>();

  // Health first: it answers with a bad config too (to the admin, with the issues).
  app.get("/__edge/health", async (c) => {
    const admin = await isAdmin(c.req.raw, c.env.EDGE_ADMIN_TOKEN);
    return healthResponse(runtimeFromEnv(c.env), admin);
  });

  // Every other request needs a valid config; with a bad one the Worker refuses to serve
  // rather than serve with half a config, and tells visitors nothing more.
  app.use("*", async (c, next) => {
    const runtime = runtimeFromEnv(c.env);
    if (runtime instanceof ConfigError) return misconfigured();
    c.set("runtime", runtime);
    c.set("config", runtime.config);
    await next();
  });

  app.all("*", async (c) => {
    const runtime = c.get("runtime");
    const client = c.req.raw;
    const hop = startHop(client);
    const refused = await overEdgeLimit(
      c.env.EDGE_RATE_LIMITER,
      client,
      runtime.edge.cacheStatusName,
    );
    if (refused !== null) {
      log(requestLine(hop, client, refused));
      return refused;
    }
    let store = stores.get(runtime);
    if (store === undefined) {
      cache ??= await openCache();
      const { memory, isolateCacheMs } = runtime.edge;
      const limits = { ...memory, windowMs: isolateCacheMs };
      store = new EntryStore(cache, {
        memory: memory.enabled ? new IsolateCache(limits) : null,
        maxBodyBytes: runtime.edge.maxStoreBytes,
      });
      stores.set(runtime, store);
    }
    const response = await handleEdgeRequest(runtime, client, c.executionCtx, {
      store,
      clock,
      health,
      shieldSecret: shieldSecret(c.env),
      hop,
    });
    log(requestLine(hop, client, response));
    return response;
  });

  return app;
}
