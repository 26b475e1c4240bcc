/**
 * The edge Worker as a Hono app. `createEdgeApp()` builds it without binding anything,
 * so tests can give it a fake clock and a cache of their own; workers/index.ts exports
 * the one the runtime serves.
 */
import { Hono } from "hono";
import { type CdnConfig, ConfigError } from "../core/config/index.ts";
import type { Env } from "./bindings.ts";
import { EntryStore } from "./cache/entry-store.ts";
import { MemoryTier } from "./cache/memory-tier.ts";
import { loadConfig } from "./config/load.ts";
import { type EdgeRuntime, edgeRuntime } from "./config/runtime.ts";
import { handleEdgeRequest } from "./flow/handle.ts";

export interface EdgeOptions {
  /** The clock, ms since the epoch, read once when a request arrives. Default Date.now. */
  readonly now?: () => number;
  /** The cache to use. Default `caches.default`, the zone's cache. */
  readonly cache?: () => Cache | Promise<Cache>;
}

export type EdgeAppEnv = { Bindings: Env; Variables: { config: CdnConfig; runtime: EdgeRuntime } };

export function createEdgeApp(options: EdgeOptions = {}): Hono<EdgeAppEnv> {
  const clock = options.now ?? Date.now;
  const openCache = options.cache ?? (() => caches.default);
  // One store per configuration: its memory tier is sized by the config.
  const stores = new WeakMap<EdgeRuntime, EntryStore>();
  let cache: Cache | null = null;
  const app = new Hono<EdgeAppEnv>();

  // Every request first needs a valid config; with a bad one the Worker refuses to serve
  // and says which fields are wrong.
  app.use("*", async (c, next) => {
    const config = loadConfig(c.env.CDN_CONFIG);
    const runtime =
      config instanceof ConfigError ? config : edgeRuntime(config, c.env.SHIELD_NODES);
    if (runtime instanceof ConfigError) {
      return c.json(
        { error: "config_invalid", message: runtime.message, issues: runtime.issues },
        500,
      );
    }
    c.set("runtime", runtime);
    c.set("config", runtime.config);
    await next();
  });

  app.get("/__edge/health", (c) => {
    const rt = c.get("runtime");
    return c.json({
      status: "ok",
      origins: rt.config.origins.map((o) => o.name),
      shieldNodes: rt.edge.shieldNodes,
    });
  });

  app.all("*", async (c) => {
    const runtime = c.get("runtime");
    let store = stores.get(runtime);
    if (store === undefined) {
      cache ??= await openCache();
      const limits = runtime.edge.memory;
      store = new EntryStore(cache, {
        memory: limits.enabled ? new MemoryTier(limits) : null,
        maxBodyBytes: runtime.edge.maxStoreBytes,
      });
      stores.set(runtime, store);
    }
    return handleEdgeRequest(runtime, c.req.raw, c.executionCtx, { store, clock });
  });

  return app;
}
