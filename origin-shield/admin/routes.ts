/**
 * Admin endpoints under /__shield/: health (with each origin server's state), Prometheus
 * metrics, and purge behind a bearer token (compared in constant time, core/auth).
 * Without a configured token purge is disabled, not open.
 */
import type { Hono } from "hono";
import { bearerToken, sameSecret } from "../../core/auth/bearer.ts";
import type { ShieldContext } from "../context.ts";
import { PurgeSchema, purgeEverywhere } from "./purge.ts";

export function adminRoutes(app: Hono, ctx: ShieldContext, purgeToken: string | undefined): void {
  app.get("/__shield/health", (c) => {
    const tiers = ctx.tiers.health();
    // A lower tier that is down does not make the node unhealthy: it serves from the
    // tiers it has (and says which are down), so a balancer must not take it out.
    const degraded = tiers.disk?.state === "down" || tiers.redis?.state === "down";
    return c.json({
      status: degraded ? "degraded" : "ok",
      name: ctx.name,
      node: ctx.cluster?.nodeId ?? null,
      origins: ctx.config.origins.map((o) => o.name),
      // Each origin's servers as the pool sees them (origin/pool.ts). An origin with none
      // up leaves the node "ok": its misses are answered stale or 503 at once, and
      // another node would fare no better.
      originPools: Object.fromEntries(
        ctx.pools.stats().map(({ origin, ...pool }) => [origin, pool]),
      ),
      memory: tiers.memory,
      tiers,
      inFlight: ctx.collapser.flights.size,
    });
  });

  app.get("/__shield/metrics", async (c) => {
    const text = await ctx.metrics.registry.metrics();
    return c.body(text, 200, { "content-type": ctx.metrics.registry.contentType });
  });

  app.post("/__shield/purge", async (c) => {
    if (purgeToken === undefined) {
      return c.json({ error: "purge_disabled", message: "no purge token is configured" }, 403);
    }
    const given = bearerToken(c.req.header("authorization")) ?? "";
    if (!(await sameSecret(given, purgeToken))) {
      return c.json({ error: "unauthorized", message: "a valid bearer token is required" }, 401, {
        "www-authenticate": 'Bearer realm="shield"',
      });
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: "bad_json", message: "the body must be JSON" }, 400);
    }
    const parsed = PurgeSchema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.join("."),
        message: i.message,
      }));
      return c.json({ error: "bad_purge", message: "invalid purge request", issues }, 400);
    }
    const purged = await purgeEverywhere(ctx, parsed.data);
    if (purged.edge !== "off") {
      ctx.metrics.cloudflarePurges.labels(purged.edge === "ok" ? "ok" : "error").inc();
    }
    ctx.log.info({ purge: parsed.data, purged }, "purge");
    return c.json({ purged, soft: parsed.data.soft });
  });

  app.all("/__shield/*", (c) =>
    c.json({ error: "not_found", message: "no such admin endpoint" }, 404),
  );
}
