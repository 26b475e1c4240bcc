/**
 * Rate limits at the shield (shield.rateLimits, origin-shield/limit/): token buckets per
 * client (the address the shield vouches for) or global; by default only what reaches
 * the origin takes a token, and a client without tokens is still served hits. A refusal
 * is 429 with Retry-After, RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-
 * headers). Requests go through the app with the peer address a socket would give.
 */
import { describe, expect, it } from "vitest";
import type { CdnConfigInput } from "../../core/config/index.ts";
import type { TestShield } from "../helpers/shield.ts";
import { harness, sequence } from "./support.ts";

const h = harness();

const CACHEABLE = sequence({ headers: { "cache-control": "max-age=600" }, body: "ok" });

/** A request as a client at `from` (the socket's peer) would send it, optionally via XFF. */
async function send(
  t: TestShield,
  path: string,
  from: string,
  init: { method?: string; forwardedFor?: string; body?: string } = {},
): Promise<Response> {
  const headers = new Headers({ host: "example.com" });
  if (init.forwardedFor !== undefined) headers.set("x-forwarded-for", init.forwardedFor);
  const request = { method: init.method ?? "GET", headers, body: init.body ?? null };
  const env = { incoming: { socket: { remoteAddress: from } } };
  const res = await t.shield.app.request(`http://example.com${path}`, request, env);
  await res.arrayBuffer();
  await t.shield.drain();
  return res;
}

function limits(rule: Record<string, unknown>, shield: Record<string, unknown> = {}) {
  return {
    shield: {
      rateLimits: [{ name: "api", ratePerSecond: 1, burst: 3, ...rule }],
      ...shield,
    },
  } as Partial<CdnConfigInput>;
}

async function metric(t: TestShield, line: RegExp): Promise<number | undefined> {
  const text = await (await t.request("/__shield/metrics")).text();
  const found = text.split("\n").find((l) => line.test(l));
  return found === undefined ? undefined : Number(found.split(" ").pop());
}

describe("a burst above the limit", () => {
  it("gets 429 with Retry-After, RateLimit-Policy and RateLimit once the bucket is empty", async () => {
    const { origin, t } = await h.start(CACHEABLE, limits({}));
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await send(t, `/miss/${i}`, "198.51.100.1");
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(origin.count()).toBe(3);
    const headers = refused?.headers;
    expect(headers?.get("retry-after")).toBe("1");
    // A 3-token bucket refilled at 1/s: 3 requests per 3 s in the long run.
    expect(headers?.get("ratelimit-policy")).toBe('"api";q=3;w=3');
    expect(headers?.get("ratelimit")).toBe('"api";r=0;t=1');
    expect(headers?.get("cache-status")).toBe("shield; detail=rate_limited");
    expect(headers?.get("cache-control")).toBe("no-store");
    expect(await metric(t, /^shield_rate_limited_total\{rule="api"\}/)).toBe(2);
  });

  it("leaves other clients their own buckets", async () => {
    const { origin, t } = await h.start(CACHEABLE, limits({ burst: 1 }));
    expect((await send(t, "/a/1", "198.51.100.1")).status).toBe(200);
    expect((await send(t, "/a/2", "198.51.100.1")).status).toBe(429);
    expect((await send(t, "/a/3", "198.51.100.2")).status).toBe(200);
    expect((await send(t, "/a/4", "2001:db8::7")).status).toBe(200);
    expect(origin.count()).toBe(3);
  });

  it("refills at ratePerSecond, up to burst", async () => {
    const { t } = await h.start(CACHEABLE, limits({ ratePerSecond: 2, burst: 2 }));
    const client = "198.51.100.1";
    let n = 0;
    const status = async () => (await send(t, `/r/${n++}`, client)).status;
    expect([await status(), await status(), await status()]).toEqual([200, 200, 429]);
    t.advance(500); // one token at 2 per second
    expect([await status(), await status()]).toEqual([200, 429]);
    t.advance(60_000); // a long quiet: full again, and no more than burst
    expect([await status(), await status(), await status()]).toEqual([200, 200, 429]);
  });

  it("counts concurrent misses as they start, not as they end", async () => {
    const { origin, t } = await h.start(async (_req, res) => {
      await new Promise((done) => setTimeout(done, 50));
      res.writeHead(200, { "cache-control": "max-age=600" });
      res.end("slow");
    }, limits({}));
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send(t, `/c/${i}`, "198.51.100.1")),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(3);
    expect(origin.count()).toBe(3);
  });
});

describe('what takes a token (count: "origin", the default)', () => {
  it("hits are free and are served to a client with no tokens left", async () => {
    const { origin, t } = await h.start(CACHEABLE, limits({ burst: 2 }));
    const client = "198.51.100.1";
    expect((await send(t, "/page", client)).status).toBe(200);
    for (let i = 0; i < 10; i++) {
      const hit = await send(t, "/page", client);
      expect(hit.status).toBe(200);
      expect(hit.headers.get("cache-status")).toMatch(/^shield; hit/);
    }
    // The hits took nothing: one more miss fits, the next does not.
    expect((await send(t, "/other/1", client)).status).toBe(200);
    expect((await send(t, "/other/2", client)).status).toBe(429);
    expect((await send(t, "/page", client)).status).toBe(200);
    expect(origin.count()).toBe(2);
  });

  it("a pass-through (POST) takes a token, and is refused without one before reaching the origin", async () => {
    const { origin, t } = await h.start(CACHEABLE, limits({ burst: 1 }));
    const post = { method: "POST", body: "order" };
    expect((await send(t, "/orders", "198.51.100.1", post)).status).toBe(200);
    expect((await send(t, "/orders", "198.51.100.1", post)).status).toBe(429);
    expect(origin.requests.map((r) => r.method)).toEqual(["POST"]);
  });

  it("a stored response that must be revalidated is refused without a token", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=10", etag: '"v1"' }, body: "ok" }),
      limits({ burst: 1, ratePerSecond: 0.01 }),
    );
    const client = "198.51.100.1";
    expect((await send(t, "/stale", client)).status).toBe(200);
    t.advance(11_000);
    expect((await send(t, "/stale", client)).status).toBe(429);
    expect(origin.count()).toBe(1);
  });

  it('count: "all" counts hits too', async () => {
    const { t } = await h.start(CACHEABLE, limits({ burst: 2, count: "all" }));
    const client = "198.51.100.1";
    expect((await send(t, "/page", client)).status).toBe(200);
    expect((await send(t, "/page", client)).status).toBe(200);
    const third = await send(t, "/page", client);
    expect(third.status).toBe(429);
    expect(third.headers.get("ratelimit")).toBe('"api";r=0;t=1');
  });

  it('by: "global" shares one bucket among every client, and match limits what it counts', async () => {
    const { origin, t } = await h.start(
      CACHEABLE,
      limits({ by: "global", burst: 2, match: { path: "/search/**" } }),
    );
    expect((await send(t, "/search/a", "198.51.100.1")).status).toBe(200);
    expect((await send(t, "/search/b", "198.51.100.2")).status).toBe(200);
    expect((await send(t, "/search/c", "198.51.100.3")).status).toBe(429);
    // Outside the rule's paths nothing is counted.
    expect((await send(t, "/elsewhere", "198.51.100.3")).status).toBe(200);
    expect(origin.count()).toBe(3);
  });
});

describe("who the client is", () => {
  const trusted = { trustedProxies: ["10.0.0.0/8"] };

  it("the edge's X-Forwarded-For names the client when the edge is a trusted proxy", async () => {
    const { t } = await h.start(CACHEABLE, limits({ burst: 1 }, trusted));
    const edge = "10.0.0.5";
    expect((await send(t, "/x/1", edge, { forwardedFor: "198.51.100.1" })).status).toBe(200);
    expect((await send(t, "/x/2", edge, { forwardedFor: "198.51.100.1" })).status).toBe(429);
    // Another client behind the same edge node has its own bucket.
    expect((await send(t, "/x/3", edge, { forwardedFor: "198.51.100.2" })).status).toBe(200);
  });

  it("from anyone else X-Forwarded-For is ignored: a client cannot rotate it to escape", async () => {
    const { t } = await h.start(CACHEABLE, limits({ burst: 1 }, trusted));
    const client = "203.0.113.9";
    expect((await send(t, "/y/1", client, { forwardedFor: "198.51.100.1" })).status).toBe(200);
    expect((await send(t, "/y/2", client, { forwardedFor: "198.51.100.2" })).status).toBe(429);
    expect((await send(t, "/y/3", client, { forwardedFor: "198.51.100.3" })).status).toBe(429);
  });
});

describe("the table of buckets", () => {
  it("stays within shield.tables.rateLimitBytes under many client addresses", async () => {
    const maxBytes = 16 * 1024;
    const { t } = await h.start(
      CACHEABLE,
      limits(
        { burst: 5 },
        { trustedProxies: ["10.0.0.0/8"], tables: { rateLimitBytes: maxBytes } },
      ),
    );
    for (let i = 0; i < 600; i++) {
      const client = `198.51.${Math.floor(i / 250)}.${i % 250}`;
      await send(t, "/page", "10.0.0.5", { forwardedFor: client });
    }
    const table = t.shield.context.limits.table;
    expect(table.bytes).toBeGreaterThan(maxBytes / 2);
    expect(table.bytes).toBeLessThanOrEqual(maxBytes);
    expect(table.size).toBeLessThan(600);
    expect(await metric(t, /^shield_table_bytes\{table="rate_limits"\}/)).toBe(table.bytes);
    expect(await metric(t, /^shield_table_max_bytes\{table="rate_limits"\}/)).toBe(maxBytes);
  });
});
