/**
 * Serving stale: stale-while-revalidate (RFC 5861 §3) and stale-if-error (RFC 5861 §4),
 * on the fake clock.
 */
import { describe, expect, it } from "vitest";
import type { OriginHandler } from "../helpers/origin.ts";
import { fill, harness, sequence, until } from "./support.ts";

const h = harness();

describe("stale-while-revalidate (RFC 5861 §3)", () => {
  it("serves the stale copy at once, revalidates once in the background for several concurrent requests, then is fresh again", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let n = 0;
    const { origin, t } = await h.start(async (_req, res) => {
      n++;
      if (n > 1) await gate; // the revalidation is slow: nobody may wait for it
      res.writeHead(200, {
        "cache-control": "max-age=10, stale-while-revalidate=60",
        etag: `"v${n}"`,
      });
      res.end(`body ${n}`);
    });
    await fill(t, "/swr");
    t.advance(15_000);

    const stale = await Promise.all([1, 2, 3, 4].map(() => t.request("/swr")));
    for (const res of stale) {
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("body 1");
      expect(res.headers.get("cache-status")).toBe(
        "shield; hit; ttl=-5; detail=stale-while-revalidate",
      );
      expect(res.headers.get("age")).toBe("15");
    }
    // One background revalidation reaches the origin; then it may answer.
    await until(() => origin.count() === 2, "the background revalidation");
    await new Promise((r) => setTimeout(r, 20));
    expect(origin.count()).toBe(2);
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"v1"');
    release();
    await t.shield.drain();

    const fresh = await t.request("/swr");
    expect(await fresh.text()).toBe("body 2");
    expect(fresh.headers.get("cache-status")).toBe("shield; hit; ttl=10");
    expect(origin.count()).toBe(2);
  });

  it("keeps the stored body when the background revalidation gets a 304", async () => {
    const { origin, t } = await h.start(
      sequence(
        {
          headers: { "cache-control": "max-age=10, stale-while-revalidate=60", etag: '"a"' },
          body: "A",
        },
        { status: 304, headers: { "cache-control": "max-age=30", etag: '"a"' } },
      ),
    );
    await fill(t, "/swr304");
    t.advance(20_000);
    const stale = await t.request("/swr304");
    expect(await stale.text()).toBe("A");
    await t.shield.drain();
    t.advance(5_000);
    const hit = await t.request("/swr304");
    expect(await hit.text()).toBe("A");
    expect(hit.headers.get("cache-control")).toBe("max-age=30");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=25");
    expect(origin.count()).toBe(2);
  });

  it("revalidates in the foreground once the stale-while-revalidate window has passed", async () => {
    const { origin, t } = await h.start(
      sequence(
        {
          headers: { "cache-control": "max-age=10, stale-while-revalidate=5", etag: '"1"' },
          body: "1",
        },
        {
          headers: { "cache-control": "max-age=10, stale-while-revalidate=5", etag: '"2"' },
          body: "2",
        },
      ),
    );
    await fill(t, "/late");
    t.advance(16_000);
    const res = await t.request("/late");
    expect(await res.text()).toBe("2");
    expect(res.headers.get("cache-status")).toBe("shield; fwd=stale; fwd-status=200; stored");
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"1"');
    expect(origin.count()).toBe(2);
  });

  it("drops an entry without validators once its stale windows have passed (nothing to revalidate)", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=10, stale-while-revalidate=5" }, body: "v" }),
    );
    await fill(t, "/gone");
    t.advance(16_000);
    const res = await t.request("/gone");
    expect(res.headers.get("cache-status")).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(origin.requests[1]?.headers["if-none-match"]).toBeUndefined();
  });

  it("applies cache.defaultStaleWhileRevalidate when the origin sets no window", async () => {
    const { t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=10" }, body: "d" }),
      {
        cache: { defaultStaleWhileRevalidate: 30 },
      },
    );
    await fill(t, "/d");
    t.advance(20_000);
    const res = await t.request("/d");
    expect(res.headers.get("cache-status")).toBe(
      "shield; hit; ttl=-10; detail=stale-while-revalidate",
    );
  });

  it("never serves stale under must-revalidate, whatever the configured default (RFC 9111 §5.2.2.2)", async () => {
    const { origin, t } = await h.start(
      sequence({
        headers: { "cache-control": "max-age=10, must-revalidate", etag: '"m"' },
        body: "m",
      }),
      { cache: { defaultStaleWhileRevalidate: 30, defaultStaleIfError: 30 } },
    );
    await fill(t, "/m");
    t.advance(11_000);
    const res = await t.request("/m");
    expect(res.headers.get("cache-status")).toBe("shield; fwd=stale; fwd-status=200; stored");
    expect(origin.count()).toBe(2);
  });
});

const SIE = { "cache-control": "max-age=10, stale-if-error=60", etag: '"s"' };

describe("stale-if-error (RFC 5861 §4)", () => {
  const failing: { name: string; status: number; fail: OriginHandler; detail?: string }[] = [
    {
      name: "origin 500",
      status: 500,
      fail: (_req, res) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("boom");
      },
    },
    {
      name: "origin 503",
      status: 503,
      fail: (_req, res) => {
        res.writeHead(503, { "retry-after": "5" });
        res.end("down for maintenance");
      },
    },
  ];

  it.each(failing)("$name: serves the stale copy within the window", async (c) => {
    const { origin, t } = await h.start(sequence({ headers: SIE, body: "good" }));
    await fill(t, "/e");
    origin.handle(c.fail);
    t.advance(30_000);
    const res = await t.request("/e");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("good");
    expect(res.headers.get("cache-status")).toBe(
      `shield; fwd=stale; fwd-status=${c.status}; ttl=-20; detail=stale-if-error`,
    );
    expect(res.headers.get("age")).toBe("30");
    expect(origin.count()).toBe(2);
    // The failure is not stored: the copy is still there, and still revalidated next time.
    t.advance(10_000);
    const again = await t.request("/e");
    expect(await again.text()).toBe("good");
    expect(origin.count()).toBe(3);
  });

  it.each(failing)("$name: relays the origin's error after the window", async (c) => {
    const { origin, t } = await h.start(sequence({ headers: SIE, body: "good" }));
    await fill(t, "/e");
    origin.handle(c.fail);
    t.advance(71_000);
    const res = await t.request("/e");
    expect(res.status).toBe(c.status);
    expect(await res.text()).not.toBe("good");
    // Not stored, and Cache-Status says why (RFC 9211 §2.8).
    expect(res.headers.get("cache-status")).toBe(
      `shield; fwd=stale; fwd-status=${c.status}; detail=status`,
    );
  });

  it("origin down (connection refused): stale within the window, 502 origin_unreachable after it", async () => {
    const { origin, t } = await h.start(sequence({ headers: SIE, body: "good" }));
    await fill(t, "/down");
    await origin.close();
    t.advance(30_000);
    const res = await t.request("/down");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("good");
    expect(res.headers.get("cache-status")).toBe(
      "shield; fwd=stale; ttl=-20; detail=stale-if-error",
    );

    t.advance(41_000);
    const late = await t.request("/down");
    expect(late.status).toBe(502);
    expect(late.headers.get("content-type")).toMatch(/^application\/json/);
    expect(late.headers.get("cache-control")).toBe("no-store");
    expect(await late.json()).toMatchObject({ error: "origin_unreachable" });
    expect(late.headers.get("cache-status")).toBe("shield; fwd=stale; detail=origin-connect");
  });

  it("origin timeout (shield.origin.headersTimeoutMs): stale within the window, 504 origin_timeout after it", async () => {
    const { origin, t } = await h.start(sequence({ headers: SIE, body: "good" }), {
      shield: { origin: { headersTimeoutMs: 100 } },
    });
    // Two entries 41 s apart, so one timeout finds one inside its window and one past
    // it (undici's header timer ticks about every 500 ms: one wait, not two).
    await fill(t, "/old");
    t.advance(41_000);
    await fill(t, "/new");
    origin.handle(() => {}); // never answers
    t.advance(30_000);
    const [within, late] = await Promise.all([t.request("/new"), t.request("/old")]);
    expect(within.status).toBe(200);
    expect(await within.text()).toBe("good");
    expect(within.headers.get("cache-status")).toBe(
      "shield; fwd=stale; ttl=-20; detail=stale-if-error",
    );
    expect(late.status).toBe(504);
    expect(await late.json()).toMatchObject({ error: "origin_timeout" });
    expect(late.headers.get("cache-status")).toBe("shield; fwd=stale; detail=origin-timeout");
  });

  it("a miss with the origin down is a 502 with a stable error code", async () => {
    const { origin, t } = await h.start();
    await origin.close();
    const res = await t.request("/nothing");
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: "origin_unreachable" });
    expect(res.headers.get("cache-status")).toBe("shield; fwd=uri-miss; detail=origin-connect");
  });

  it("applies cache.defaultStaleIfError when the origin sets no window", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=10" }, body: "ok" }),
      {
        cache: { defaultStaleIfError: 60 },
      },
    );
    await fill(t, "/def");
    origin.handle((_req, res) => {
      res.writeHead(502);
      res.end();
    });
    t.advance(20_000);
    const res = await t.request("/def");
    expect(await res.text()).toBe("ok");
    expect(res.headers.get("cache-status")).toBe(
      "shield; fwd=stale; fwd-status=502; ttl=-10; detail=stale-if-error",
    );
  });
});
