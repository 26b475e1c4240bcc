/**
 * Negative caching at the edge (cache.negativeTtl, the same policy as the shield's,
 * core/policy/freshness.ts): a 404 or 410 without freshness is stored for the negative
 * TTL and Cache-Status says detail=negative-ttl; an explicit no-store or max-age=0 is
 * obeyed.
 */
import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

describe("a 404 or 410 the shield relays without freshness", () => {
  it.each([404, 410])("%i is cached for the negative TTL and says so", async (status) => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { status, body: "gone" });
    const first = await edge.send(path);
    expect(first.status).toBe(status);
    expect(first.headers.get("cache-status")).toBe(
      `edge; fwd=uri-miss; fwd-status=${status}; stored; detail=negative-ttl`,
    );
    edge.advance(50);
    const hit = await edge.send(path);
    expect(hit.status).toBe(status);
    expect(hit.text).toBe("gone");
    expect(hit.headers.get("cache-status")).toBe("edge; hit; ttl=10; detail=negative-ttl");
    expect(await receivedAll(path)).toHaveLength(1);
    edge.advance(11);
    await edge.send(path);
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("counts the time the shield already held it (Age)", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { status: 404, headers: { age: "45" } });
    await edge.send(path);
    edge.advance(16);
    await edge.send(path);
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("follows cache.negativeTtl; 0 stores nothing", async () => {
    const path = uniquePath();
    await scriptAll(path, { status: 404 });
    const off = testEdge(cdnConfig({ cache: { negativeTtl: 0 } }));
    await off.send(path);
    const again = await off.send(path);
    expect(again.headers.get("cache-status")).toBe(
      "edge; fwd=uri-miss; fwd-status=404; detail=stale-on-arrival",
    );
    expect(await receivedAll(path)).toHaveLength(2);
  });
});

describe("an explicit answer wins", () => {
  it.each([
    ["no-store", "edge; fwd=uri-miss; fwd-status=404; detail=no-store"],
    ["max-age=0", "edge; fwd=uri-miss; fwd-status=404; detail=stale-on-arrival"],
  ])("a 404 with %s is not stored", async (cacheControl, status) => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { status: 404, headers: { "cache-control": cacheControl } });
    expect((await edge.send(path)).headers.get("cache-status")).toBe(status);
    await edge.send(path);
    expect(await receivedAll(path)).toHaveLength(2);
  });
});
