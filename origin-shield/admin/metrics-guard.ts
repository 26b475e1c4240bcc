/**
 * Who may read /__shield/metrics once the shield checks the edge's signature
 * (shield.edgeAuth): a request that carries the purge token as a bearer token, or one
 * the edge signed. The metrics name origins, tiers and traffic, which is what the
 * signature keeps from the internet; a Prometheus scraper, which cannot sign, uses the
 * purge token. Without edgeAuth the metrics stay open as before, for a node on a private
 * network. /__shield/health is never guarded: a load balancer's check needs no secret,
 * and it says only whether the node and its tiers are up.
 */
import type { Hono } from "hono";
import { bearerToken, sameSecret } from "../../core/auth/bearer.ts";
import { fromWebHeaders } from "../http/headers.ts";
import type { EdgeGate } from "../request/edge-auth.ts";

export function guardMetrics(app: Hono, gate: EdgeGate, purgeToken: string | undefined): void {
  app.use("/__shield/metrics", async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (token !== null && purgeToken !== undefined && (await sameSecret(token, purgeToken))) {
      return next();
    }
    const url = new URL(c.req.url);
    const refused = await gate.check({
      method: c.req.method,
      target: url.pathname + url.search,
      headers: fromWebHeaders(c.req.raw.headers),
      remoteAddress: undefined,
      secure: url.protocol === "https:",
      body: null,
    });
    if (refused === null) return next();
    return c.json(
      {
        error: "unauthorized",
        message: "the metrics need the purge token (Authorization: Bearer) or the edge's signature",
      },
      401,
      { "www-authenticate": 'Bearer realm="shield"', "cache-control": "no-store" },
    );
  });
}
