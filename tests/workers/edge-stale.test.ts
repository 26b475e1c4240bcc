import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

describe("stale-while-revalidate, emulated with waitUntil (RFC 5861 §3)", () => {
  it("serves the stale copy at once and refreshes it in the background", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const cc = "max-age=10, stale-while-revalidate=60";
    await scriptAll(path, { headers: { "cache-control": cc }, body: "v1" });
    await edge.send(path);
    await scriptAll(path, { headers: { "cache-control": cc }, body: "v2" });
    edge.advance(15);
    const stale = await edge.send(path);
    expect(stale.text).toBe("v1");
    expect(stale.headers.get("cache-status")).toBe(
      "edge; hit; ttl=-5; detail=stale-while-revalidate",
    );
    expect(stale.headers.get("age")).toBe("15");
    // send() waited for the background refresh: the next request is a fresh hit on v2.
    expect(await receivedAll(path)).toHaveLength(2);
    const fresh = await edge.send(path);
    expect(fresh.text).toBe("v2");
    expect(fresh.headers.get("cache-status")).toBe("edge; hit; ttl=10");
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("runs at most one refresh per key at a time, however many requests see it stale", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const cc = "max-age=10, stale-while-revalidate=60";
    await scriptAll(path, { headers: { "cache-control": cc }, body: "v1" });
    await edge.send(path);
    await scriptAll(path, { headers: { "cache-control": cc }, body: "v2", delayMs: 200 });
    edge.advance(20);
    const responses = await Promise.all(Array.from({ length: 8 }, () => edge.raw(path)));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(bodies).toEqual(Array(8).fill("v1"));
    await edge.settle();
    expect(await receivedAll(path)).toHaveLength(2);
    expect((await edge.send(path)).text).toBe("v2");
  });

  it("refreshes each Vary variant of a key on its own: one variant's refresh never holds another's", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const cc = "max-age=10, stale-while-revalidate=60";
    const headers = { "cache-control": cc, vary: "X-Tenant" };
    const tenant = (value: string) => ({ headers: { "x-tenant": value } });
    await scriptAll(path, { headers, body: "a1" }, { headers, body: "b1" });
    expect((await edge.send(path, tenant("a"))).text).toBe("a1");
    expect((await edge.send(path, tenant("b"))).text).toBe("b1");
    // Slow refreshes, so that both are under way at the same moment.
    await scriptAll(
      path,
      { headers, body: "a2", delayMs: 200 },
      { headers, body: "b2", delayMs: 200 },
    );
    edge.advance(20);
    const [a, b] = await Promise.all([edge.raw(path, tenant("a")), edge.raw(path, tenant("b"))]);
    expect([await a.text(), await b.text()]).toEqual(["a1", "b1"]);
    await edge.settle();
    // Both were refreshed in the background: each variant's next answer is its new body.
    expect(await receivedAll(path)).toHaveLength(4);
    const next = [
      (await edge.send(path, tenant("a"))).text,
      (await edge.send(path, tenant("b"))).text,
    ];
    expect(next.sort()).toEqual(["a2", "b2"]);
  });

  it("revalidates with the entry's validators in the background and keeps the body on 304", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const cc = "max-age=10, stale-while-revalidate=60";
    await scriptAll(path, { headers: { "cache-control": cc, etag: '"e1"' }, body: "body-1" });
    await edge.send(path);
    await scriptAll(path, { status: 304, headers: { "cache-control": cc, etag: '"e1"' } });
    edge.advance(12);
    expect((await edge.send(path)).text).toBe("body-1");
    const logs = await receivedAll(path);
    expect(logs).toHaveLength(2);
    expect(logs[1]!.headers["if-none-match"]).toBe('"e1"');
    // Renewed by the 304: fresh again, same body.
    const renewed = await edge.send(path);
    expect(renewed.text).toBe("body-1");
    expect(renewed.headers.get("cache-status")).toBe("edge; hit; ttl=10");
  });

  it("stops serving stale once the window has passed: the request waits for the shield", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const cc = "max-age=10, stale-while-revalidate=5";
    await scriptAll(path, { headers: { "cache-control": cc }, body: "v1" });
    await edge.send(path);
    await scriptAll(path, { headers: { "cache-control": cc }, body: "v2" });
    edge.advance(16);
    const res = await edge.send(path);
    expect(res.text).toBe("v2");
    expect(res.headers.get("cache-status")).toBe("edge; fwd=stale; fwd-status=200; stored");
  });

  it("applies the configured default window when the origin sets none", async () => {
    const edge = testEdge(cdnConfig({ cache: { defaultStaleWhileRevalidate: 30 } }));
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=10" }, body: "v1" });
    await edge.send(path);
    edge.advance(20);
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(
      /detail=stale-while-revalidate$/,
    );
  });
});

describe("revalidation in the foreground (RFC 9111 §4.3)", () => {
  it("sends If-None-Match and serves the stored body on 304, renewing it", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10", etag: '"e1"', "x-version": "1" },
      body: "kept",
    });
    await edge.send(path);
    await scriptAll(path, {
      status: 304,
      headers: { "cache-control": "max-age=30", etag: '"e1"', "cache-status": "shield; hit" },
    });
    edge.advance(11);
    const res = await edge.send(path);
    expect(res.status).toBe(200);
    expect(res.text).toBe("kept");
    expect(res.headers.get("cache-control")).toBe("max-age=30");
    expect(res.headers.get("x-version")).toBe("1");
    expect(res.headers.get("cache-status")).toBe(
      "shield; hit, edge; fwd=stale; fwd-status=304; stored",
    );
    expect((await receivedAll(path))[1]!.headers["if-none-match"]).toBe('"e1"');
    edge.advance(20);
    // The 304's upstream member is kept with the renewed entry (RFC 9211 §2).
    expect((await edge.send(path)).headers.get("cache-status")).toBe(
      "shield; hit, edge; hit; ttl=10",
    );
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("uses If-Modified-Since when the entry only has Last-Modified", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const lm = "Wed, 01 Jan 2025 00:00:00 GMT";
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10", "last-modified": lm },
      body: "x",
    });
    await edge.send(path);
    await scriptAll(path, {
      status: 304,
      headers: { "cache-control": "max-age=10", "last-modified": lm },
    });
    edge.advance(11);
    expect((await edge.send(path)).text).toBe("x");
    expect((await receivedAll(path))[1]!.headers["if-modified-since"]).toBe(lm);
  });

  it("replaces the entry when the shield answers 200 to the revalidation", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10", etag: '"e1"' },
      body: "old",
    });
    await edge.send(path);
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10", etag: '"e2"' },
      body: "new",
    });
    edge.advance(11);
    expect((await edge.send(path)).text).toBe("new");
    expect((await edge.send(path)).text).toBe("new");
    expect(await receivedAll(path)).toHaveLength(2);
  });
});

describe("stale-if-error (RFC 5861 §4)", () => {
  const cc = "max-age=10, stale-if-error=300";

  it("serves the stale copy when every shield node answers 5xx", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": cc }, body: "good" });
    await edge.send(path);
    await scriptAll(path, { status: 503, body: "down" });
    edge.advance(60);
    const res = await edge.send(path);
    expect(res.status).toBe(200);
    expect(res.text).toBe("good");
    expect(res.headers.get("cache-status")).toBe(
      "edge; fwd=stale; fwd-status=503; ttl=-50; detail=stale-if-error",
    );
    // The key's first node and its runner-up were asked (edge.maxAttempts = 2).
    expect(await receivedAll(path)).toHaveLength(3);
  });

  it("serves the stale copy after asking one node when the shield relays the origin's 5xx", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": cc }, body: "good" });
    await edge.send(path);
    const relayed = "shield; fwd=stale; fwd-status=503";
    await scriptAll(path, { status: 503, headers: { "cache-status": relayed }, body: "down" });
    edge.advance(60);
    const res = await edge.send(path);
    expect(res.text).toBe("good");
    expect(res.headers.get("cache-status")).toMatch(/detail=stale-if-error$/);
    // Another node would only have asked the failing origin again.
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("serves the stale copy when no node can be reached or none answers in time", async () => {
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": cc }, body: "good" });
    const edge = testEdge();
    await edge.send(path);
    await scriptAll(path, { hangup: true });
    edge.advance(60);
    const res = await edge.send(path);
    expect(res.text).toBe("good");
    expect(res.headers.get("cache-status")).toBe("edge; fwd=stale; ttl=-50; detail=stale-if-error");

    const slow = uniquePath();
    await scriptAll(slow, { headers: { "cache-control": cc }, body: "good" });
    const timed = testEdge(cdnConfig({ edge: { shieldTimeoutMs: 100 } }));
    await timed.send(slow);
    await scriptAll(slow, { delayMs: 1_000 });
    timed.advance(60);
    const started = Date.now();
    const late = await timed.send(slow);
    expect(late.text).toBe("good");
    expect(Date.now() - started).toBeLessThan(900);
  });

  it("answers the error once the stale-if-error window has passed", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": cc }, body: "good" });
    await edge.send(path);
    await scriptAll(path, { status: 503, body: "down" });
    edge.advance(400);
    const res = await edge.send(path);
    expect(res.status).toBe(503);
    expect(res.text).toBe("down");
    expect(res.headers.get("cache-status")).toBe("edge; fwd=stale; fwd-status=503; detail=status");
  });

  it("never serves stale when the origin said must-revalidate", async () => {
    const edge = testEdge(cdnConfig({ cache: { defaultStaleIfError: 600 } }));
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10, must-revalidate" },
      body: "good",
    });
    await edge.send(path);
    await scriptAll(path, { status: 500, body: "broken" });
    edge.advance(20);
    expect((await edge.send(path)).status).toBe(500);
  });

  it("answers 502 or 504 with a stable code when nothing is stored", async () => {
    const unreachable = uniquePath();
    await scriptAll(unreachable, { hangup: true });
    const edge = testEdge();
    const a = await edge.send(unreachable);
    expect(a.status).toBe(502);
    expect(JSON.parse(a.text)).toMatchObject({ error: "upstream_unreachable" });
    expect(a.headers.get("cache-status")).toBe("edge; fwd=uri-miss; detail=upstream_unreachable");
    expect(a.headers.get("cache-control")).toBe("no-store");

    const slow = uniquePath();
    await scriptAll(slow, { delayMs: 1_000 });
    const timed = testEdge(cdnConfig({ edge: { shieldTimeoutMs: 100 } }));
    const b = await timed.send(slow);
    expect(b.status).toBe(504);
    expect(JSON.parse(b.text)).toMatchObject({ error: "upstream_timeout" });
  });

  it("never stores a body the shield cut off half-way", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60" },
      body: "0123456789".repeat(100),
      cutAfterBytes: 10,
    });
    await edge.raw(path).then((r) => r.text().catch(() => "cut"));
    await edge.settle();
    await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "complete" });
    const second = await edge.send(path);
    expect(second.text).toBe("complete");
    expect(await receivedAll(path)).toHaveLength(2);
  });
});
