import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { formatHttpDate } from "../../core/http/dates.ts";
import { buildCacheKey, normaliseUrl, storageName } from "../../core/key/index.ts";
import type { EntryMeta } from "../../core/policy/index.ts";
import { IsolateCache } from "../../workers/cache/isolate-cache.ts";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const CACHE_ORIGIN = "https://edge-cache.internal/";

/** The storage name the edge gives a plain GET of `path` (core/key). */
function storageNameOf(path: string): string {
  const { key } = parseConfig(JSON.parse(cdnConfig()));
  const url = normaliseUrl(`https://edge.test${path}`, key);
  return storageName(buildCacheKey({ url, headers: new Headers() }, key, null));
}

describe("bounded bodies (edge.maxStoreBytes)", () => {
  it("streams a body announced larger than the limit through, unstored", async () => {
    const edge = testEdge(cdnConfig({ edge: { maxStoreBytes: 100 } }));
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=600" }, body: "x".repeat(500) });
    const res = await edge.send(path);
    expect(res.text).toHaveLength(500);
    expect(res.headers.get("cache-status")).toBe(
      "edge; fwd=uri-miss; fwd-status=200; detail=too-large",
    );
    await edge.send(path);
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("gives up storing a chunked body once it passes the limit; the client still gets it all", async () => {
    const edge = testEdge(cdnConfig({ edge: { maxStoreBytes: 100 } }));
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=600" },
      body: "y".repeat(5000),
      chunked: true,
    });
    const res = await edge.send(path);
    expect(res.text).toHaveLength(5000);
    const again = await edge.send(path);
    expect(again.text).toHaveLength(5000);
    expect(again.headers.get("cache-status")).toMatch(/^edge; fwd=uri-miss/);
    expect(await receivedAll(path)).toHaveLength(2);
  });
});

describe("the in-isolate memory tier", () => {
  it("serves hot small objects without the Cache API, for at most isolateCacheMs", async () => {
    const edge = testEdge(cdnConfig({ edge: { isolateCacheMs: 5_000 } }));
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=600" }, body: "hot" });
    await edge.send(path);
    const cache = await edge.cache();
    const res = await edge.send(path);
    expect(res.headers.get("cache-status")).toMatch(/^edge; hit/);
    // Gone from the Cache API (a purge elsewhere): this isolate's copy still answers…
    expect(await cache.delete(CACHE_ORIGIN + storageNameOf(path))).toBe(true);
    edge.advance(4);
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(/^edge; hit/);
    // …but only until isolateCacheMs after it was stored here.
    edge.advance(2);
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(/^edge; fwd=uri-miss/);
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("takes a small object back into memory when it reads it from the Cache API", async () => {
    const edge = testEdge(cdnConfig({ edge: { isolateCacheMs: 5_000 } }));
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=600" }, body: "warm" });
    await edge.send(path);
    edge.advance(6); // the memory copy is too old: this hit reads the Cache API…
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(/^edge; hit/);
    const cache = await edge.cache();
    expect(await cache.delete(CACHE_ORIGIN + storageNameOf(path))).toBe(true);
    edge.advance(3); // …and keeps the object in memory again.
    const res = await edge.send(path);
    expect(res.text).toBe("warm");
    expect(res.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(path)).toHaveLength(1);
  });

  it("leaves objects larger than memory.maxObjectBytes to the Cache API", async () => {
    const edge = testEdge(cdnConfig({ edge: { memory: { maxObjectBytes: 100 } } }));
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=600" }, body: "x".repeat(500) });
    await edge.send(path);
    const hit = await edge.send(path);
    expect(hit.text).toHaveLength(500);
    expect(hit.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(path)).toHaveLength(1);
  });
});

function meta(deleteAt: number): EntryMeta {
  return {
    status: 200,
    headers: [["date", formatHttpDate(0)]],
    requestTime: 0,
    responseTime: 0,
    initialAge: 0,
    freshnessLifetime: 60,
    lifetimeSource: "max-age",
    freshUntil: 60_000,
    staleWhileRevalidateUntil: 60_000,
    staleIfErrorUntil: 60_000,
    deleteAt,
    staleForbidden: false,
    vary: null,
    shareableWithAuthorization: false,
    tags: [],
  };
}

describe("IsolateCache", () => {
  const limits = { maxBytes: 10_000, maxObjectBytes: 3_000, windowMs: 10_000 };

  it("stays within its byte budget, evicting the least recently used", () => {
    const tier = new IsolateCache(limits);
    const body = new Uint8Array(2_000);
    tier.set("a", "ka", meta(1e9), body, 0);
    tier.set("b", "kb", meta(1e9), body, 0);
    tier.set("c", "kc", meta(1e9), body, 0);
    expect(tier.get("a", "ka", 1)).not.toBeNull(); // a is now the most recent
    tier.set("d", "kd", meta(1e9), body, 0);
    expect(tier.bytes).toBeLessThanOrEqual(limits.maxBytes);
    expect(tier.get("b", "kb", 1)).toBeNull();
    expect(tier.get("a", "ka", 1)).not.toBeNull();
    expect(tier.get("d", "kd", 1)).not.toBeNull();
  });

  it("refuses bodies above maxObjectBytes, and answers only its own key", () => {
    const tier = new IsolateCache(limits);
    tier.set("big", "k", meta(1e9), new Uint8Array(3_001), 0);
    expect(tier.get("big", "k", 0)).toBeNull();
    tier.set("n", "key-1", meta(1e9), new Uint8Array(1), 0);
    expect(tier.get("n", "key-2", 0)).toBeNull();
  });

  it("forgets a copy after windowMs or once the entry may be deleted", () => {
    const tier = new IsolateCache(limits);
    tier.set("n", "k", meta(1e9), new Uint8Array(1), 0);
    expect(tier.get("n", "k", 9_999)).not.toBeNull();
    expect(tier.get("n", "k", 10_000)).toBeNull();
    tier.set("m", "k", meta(5_000), new Uint8Array(1), 0);
    expect(tier.get("m", "k", 5_000)).toBeNull();
    expect(tier.bytes).toBe(0);
  });
});
