/**
 * The sharing rule at the edge (core/policy/sharing.ts, applied by planStorage and
 * decide): a response fetched with a cookie the key does not hold may have been made for
 * that cookie's owner, so it reaches another client only when the origin (or a TTL rule
 * naming the path) said it is shareable; and a copy kept only to be revalidated is never
 * served without revalidating it.
 */
import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const ALICE = { cookie: "session=a" };

describe("a response fetched with a cookie is shared only when explicitly shareable", () => {
  it("does not store an ETag-only page fetched with a cookie, nor serve it to max-stale", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { etag: '"a1"' }, body: "Alice's account page" });
    const alice = await edge.send(path, { headers: ALICE });
    expect(alice.text).toBe("Alice's account page");
    expect(alice.headers.get("cache-status")).toBe(
      "edge; fwd=uri-miss; fwd-status=200; detail=cookie",
    );
    const anonymous = await edge.send(path, {
      headers: { "cache-control": "max-stale, only-if-cached" },
    });
    expect(anonymous.status).toBe(504);
    expect(JSON.parse(anonymous.text)).toMatchObject({ error: "only_if_cached" });
    expect(anonymous.text).not.toContain("Alice");
    expect(await receivedAll(path)).toHaveLength(1);
  });

  it("does not store a Last-Modified-only page fetched with a cookie (no heuristic sharing)", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const lastModified = new Date(edge.now() - 10 * 86_400_000).toUTCString();
    await scriptAll(path, { headers: { "last-modified": lastModified }, body: "Alice's cart" });
    const alice = await edge.send(path, { headers: ALICE });
    expect(alice.headers.get("cache-status")).toBe(
      "edge; fwd=uri-miss; fwd-status=200; detail=cookie",
    );
    await scriptAll(path, { headers: { "last-modified": lastModified }, body: "empty cart" });
    const bob = await edge.send(path);
    expect(bob.text).toBe("empty cart");
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it.each([
    ["max-age", { "cache-control": "max-age=60" }],
    ["s-maxage", { "cache-control": "s-maxage=60" }],
    ["CDN-Cache-Control", { "cdn-cache-control": "max-age=60" }],
    ["public", { "cache-control": "public", "last-modified": "Wed, 01 Jan 2025 00:00:00 GMT" }],
  ])("stores and shares a static asset fetched with a cookie (%s)", async (_name, headers) => {
    const edge = testEdge();
    const path = uniquePath("app.css");
    await scriptAll(path, { headers, body: "body { color: teal }" });
    const alice = await edge.send(path, { headers: ALICE });
    expect(alice.headers.get("cache-status")).toBe("edge; fwd=uri-miss; fwd-status=200; stored");
    const bob = await edge.send(path);
    expect(bob.text).toBe("body { color: teal }");
    expect(bob.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(path)).toHaveLength(1);
  });

  it("stores and shares what a TTL rule naming the path makes cacheable", async () => {
    const edge = testEdge(
      cdnConfig({ rules: [{ match: { path: "/t/*/docs/**" }, ttl: { set: 60 } }] }),
    );
    const path = `${uniquePath("docs")}/intro`;
    await scriptAll(path, { headers: { etag: '"d1"' }, body: "the docs" });
    await edge.send(path, { headers: ALICE });
    const bob = await edge.send(path);
    expect(bob.text).toBe("the docs");
    expect(bob.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(path)).toHaveLength(1);
  });
});

describe("stale windows need stated freshness", () => {
  it("revalidates an ETag-only response before serving it, despite a default stale window", async () => {
    const edge = testEdge(cdnConfig({ cache: { defaultStaleWhileRevalidate: 60 } }));
    const path = uniquePath();
    await scriptAll(path, { headers: { etag: '"v1"' }, body: "version 1" });
    const first = await edge.send(path);
    expect(first.headers.get("cache-status")).toBe("edge; fwd=uri-miss; fwd-status=200; stored");
    await scriptAll(path, { headers: { etag: '"v2"' }, body: "version 2" });
    edge.advance(1);
    const next = await edge.send(path);
    expect(next.text).toBe("version 2");
    expect(next.headers.get("cache-status")).toMatch(/^edge; fwd=stale; fwd-status=200/);
    const logs = await receivedAll(path);
    expect(logs).toHaveLength(2);
    expect(logs[1]!.headers["if-none-match"]).toBe('"v1"');
  });
});
