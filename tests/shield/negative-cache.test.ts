/**
 * Negative caching at the shield (cache.negativeTtl): a 404 or 410 the origin gave no
 * freshness is stored for the negative TTL and says so in Cache-Status (detail
 * negative-ttl), on the miss that stored it and on each hit; an explicit no-store or
 * max-age=0 is obeyed. The edge applies the same policy (tests/workers/edge-negative).
 */
import { describe, expect, it } from "vitest";
import { fill, harness, sequence } from "./support.ts";

const h = harness();

describe("a 404 or 410 without freshness", () => {
  it.each([404, 410])("%i is cached for cache.negativeTtl (default 60 s)", async (status) => {
    const { origin, t } = await h.start(sequence({ status, body: "no such thing" }));
    const first = await fill(t, "/missing");
    expect(first.res.status).toBe(status);
    expect(first.res.headers.get("cache-status")).toBe(
      `shield; fwd=uri-miss; fwd-status=${status}; stored; detail=negative-ttl`,
    );
    t.advance(59_000);
    const hit = await fill(t, "/missing");
    expect(hit.res.status).toBe(status);
    expect(hit.body).toBe("no such thing");
    expect(hit.res.headers.get("cache-status")).toBe("shield; hit; ttl=1; detail=negative-ttl");
    expect(origin.count()).toBe(1);
    t.advance(2_000);
    const again = await fill(t, "/missing");
    expect(again.res.headers.get("cache-status")).toMatch(/^shield; fwd=uri-miss/);
    expect(origin.count()).toBe(2);
  });

  it("follows a configured negativeTtl, and 0 turns it off", async () => {
    const { origin, t } = await h.start(sequence({ status: 404 }), {
      cache: { negativeTtl: 5 },
    });
    await fill(t, "/short");
    t.advance(4_000);
    expect((await fill(t, "/short")).res.headers.get("cache-status")).toMatch(/^shield; hit/);
    t.advance(2_000);
    await fill(t, "/short");
    expect(origin.count()).toBe(2);
  });

  it("is not stored with negativeTtl 0", async () => {
    const { origin, t } = await h.start(sequence({ status: 404 }), { cache: { negativeTtl: 0 } });
    await fill(t, "/off");
    await fill(t, "/off");
    expect(origin.count()).toBe(2);
  });
});

describe("an explicit answer from the origin wins", () => {
  it.each([
    ["no-store", "no-store", "shield; fwd=uri-miss; fwd-status=404; detail=no-store"],
    ["max-age=0", "max-age=0", "shield; fwd=uri-miss; fwd-status=404; detail=stale-on-arrival"],
  ])("a 404 with %s is not stored", async (_what, cacheControl, status) => {
    const { origin, t } = await h.start(
      sequence({ status: 404, headers: { "cache-control": cacheControl } }),
    );
    expect((await fill(t, "/explicit")).res.headers.get("cache-status")).toBe(status);
    await fill(t, "/explicit");
    expect(origin.count()).toBe(2);
  });

  it("a 404 with max-age keeps its own lifetime, without the detail", async () => {
    const { t } = await h.start(
      sequence({ status: 404, headers: { "cache-control": "max-age=300" } }),
    );
    const first = await fill(t, "/long");
    expect(first.res.headers.get("cache-status")).toBe(
      "shield; fwd=uri-miss; fwd-status=404; stored",
    );
    t.advance(200_000);
    expect((await fill(t, "/long")).res.headers.get("cache-status")).toBe("shield; hit; ttl=100");
  });
});
