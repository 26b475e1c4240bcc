/**
 * What is stored and for how long: Vary (RFC 9111 §4.1), CDN-Cache-Control (RFC 9213),
 * request Cache-Control (RFC 9111 §5.2.1), TTL rules, Authorization (RFC 9111 §3.5).
 */
import { describe, expect, it } from "vitest";
import type { OriginHandler } from "../helpers/origin.ts";
import { fill, harness, sequence, until } from "./support.ts";

const h = harness();

/** Echoes the request's Accept-Encoding in the body; varies on it. */
const byEncoding: OriginHandler = (req, res) => {
  res.writeHead(200, { "cache-control": "max-age=60", vary: "Accept-Encoding" });
  res.end(`encoding=${req.headers["accept-encoding"] ?? "none"}`);
};

describe("Vary and secondary keys (RFC 9111 §4.1)", () => {
  it("stores each Accept-Encoding variant separately and serves each to the matching client", async () => {
    const { origin, t } = await h.start(byEncoding);
    const gzip = { headers: { "accept-encoding": "gzip" } };
    const br = { headers: { "accept-encoding": "br" } };

    const a = await fill(t, "/v", gzip);
    expect(a.body).toBe("encoding=gzip");
    expect(a.res.headers.get("cache-status")).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    const b = await fill(t, "/v", br);
    expect(b.body).toBe("encoding=br");
    expect(b.res.headers.get("cache-status")).toBe("shield; fwd=vary-miss; fwd-status=200; stored");
    const none = await fill(t, "/v", { headers: { "accept-encoding": "" } });
    expect(none.res.headers.get("cache-status")).toMatch(/^shield; fwd=vary-miss/);
    expect(origin.count()).toBe(3);

    for (const [init, body] of [
      [gzip, "encoding=gzip"],
      [br, "encoding=br"],
      [{ headers: { "accept-encoding": "GZIP" } }, "encoding=gzip"], // case-insensitive list
      [{ headers: { "accept-encoding": "gzip " } }, "encoding=gzip"], // whitespace
    ] as const) {
      const res = await t.request("/v", init);
      expect(await res.text()).toBe(body);
      expect(res.headers.get("cache-status")).toBe("shield; hit; ttl=60");
      expect(res.headers.get("vary")).toBe("Accept-Encoding");
    }
    expect(origin.count()).toBe(3);
  });

  it("a request without the varying header matches only a response stored for a request without it", async () => {
    const { origin, t } = await h.start(byEncoding);
    await fill(t, "/v2");
    expect((await fill(t, "/v2")).body).toBe("encoding=none");
    expect(origin.count()).toBe(1);
    expect((await fill(t, "/v2", { headers: { "accept-encoding": "gzip" } })).body).toBe(
      "encoding=gzip",
    );
    expect(origin.count()).toBe(2);
  });

  it("never stores Vary: * (every later request goes to the origin)", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=60", vary: "*" }, body: "star" }),
    );
    for (let i = 0; i < 2; i++) {
      const { res, body } = await fill(t, "/star");
      expect(body).toBe("star");
      expect(res.headers.get("cache-status")).toBe(
        "shield; fwd=uri-miss; fwd-status=200; detail=vary-star",
      );
    }
    expect(origin.count()).toBe(2);
  });

  it("drops the old variants when the origin stops varying (the tier holds one entry)", async () => {
    let vary = true;
    const { t } = await h.start((req, res) => {
      res.writeHead(200, {
        "cache-control": "max-age=10",
        etag: `"${vary}"`,
        ...(vary ? { vary: "Accept-Encoding" } : {}),
      });
      res.end(`enc=${req.headers["accept-encoding"] ?? "none"}`);
    });
    const gzip = { headers: { "accept-encoding": "gzip" } };
    await fill(t, "/drop", gzip);
    t.advance(11_000);
    await fill(t, "/drop", gzip); // revalidated, 200: the variant is stored again
    vary = false;
    t.advance(11_000);
    await fill(t, "/drop", gzip);
    const health = await (await t.request("/__shield/health")).json();
    expect(health).toMatchObject({ memory: { entries: 1 } });
  });
});

describe("CDN-Cache-Control over Cache-Control (RFC 9213 §2.2)", () => {
  it("a longer CDN-Cache-Control max-age keeps the response fresh past Cache-Control's", async () => {
    const { origin, t } = await h.start(
      sequence({
        headers: { "cache-control": "max-age=5", "cdn-cache-control": "max-age=100" },
        body: "c",
      }),
    );
    await fill(t, "/cdn");
    t.advance(50_000);
    const res = await t.request("/cdn");
    expect(res.headers.get("cache-status")).toBe("shield; hit; ttl=50");
    // Cache-Control is passed on unchanged for the caches after us.
    expect(res.headers.get("cache-control")).toBe("max-age=5");
    expect(origin.count()).toBe(1);
  });

  it("CDN-Cache-Control: no-store wins over a cacheable Cache-Control", async () => {
    const { origin, t } = await h.start(
      sequence({
        headers: { "cache-control": "public, max-age=600", "cdn-cache-control": "no-store" },
        body: "n",
      }),
    );
    const { res } = await fill(t, "/ns");
    expect(res.headers.get("cache-status")).toBe(
      "shield; fwd=uri-miss; fwd-status=200; detail=no-store",
    );
    await fill(t, "/ns");
    expect(origin.count()).toBe(2);
  });

  it("CDN-Cache-Control makes a response cacheable that Cache-Control: private would not be", async () => {
    const { origin, t } = await h.start(
      sequence({
        headers: { "cache-control": "private", "cdn-cache-control": "max-age=30" },
        body: "p",
      }),
    );
    await fill(t, "/pc");
    const hit = await t.request("/pc");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=30");
    expect(origin.count()).toBe(1);
  });

  it("RFC 9110 §5.6.7: an Expires written in lower case is read as the date it names", async () => {
    const { origin, t } = await h.start(
      sequence({
        headers: {
          date: "sun, 22 nov 2026 12:00:00 gmt",
          expires: "sun, 22 nov 2026 12:01:00 gmt",
        },
        body: "lower",
      }),
    );
    await fill(t, "/lower");
    const hit = await t.request("/lower");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(origin.count()).toBe(1);
  });

  it("ignores Expires when CDN-Cache-Control is present", async () => {
    const { origin, t } = await h.start(
      sequence({
        headers: { expires: "Thu, 01 Jan 2099 00:00:00 GMT", "cdn-cache-control": "max-age=10" },
        body: "e",
      }),
    );
    await fill(t, "/exp");
    t.advance(11_000);
    await fill(t, "/exp");
    expect(origin.count()).toBe(2);
  });
});

describe("request Cache-Control (RFC 9111 §5.2.1)", () => {
  const stored = () =>
    sequence(
      { headers: { "cache-control": "max-age=60", etag: '"n1"' }, body: "stored" },
      { status: 304, headers: { "cache-control": "max-age=60", etag: '"n1"' } },
    );

  it.each<Record<string, string>>([
    { "cache-control": "no-cache" },
    { pragma: "no-cache" },
    { "cache-control": "max-age=0" },
  ])("is ignored by default (%o): a hit, no origin request", async (headers) => {
    const { origin, t } = await h.start(stored());
    await fill(t, "/nc");
    t.advance(1_000);
    const res = await t.request("/nc", { headers });
    expect(await res.text()).toBe("stored");
    expect(res.headers.get("cache-status")).toBe("shield; hit; ttl=59");
    expect(origin.count()).toBe(1);
  });

  it.each<Record<string, string>>([
    { "cache-control": "no-cache" },
    { pragma: "no-cache" },
    { "cache-control": "max-age=0" },
  ])("with cache.honorRequestNoCache (%o) revalidates with the origin", async (headers) => {
    const { origin, t } = await h.start(stored(), { cache: { honorRequestNoCache: true } });
    await fill(t, "/nc");
    t.advance(1_000);
    const res = await t.request("/nc", { headers });
    expect(await res.text()).toBe("stored");
    expect(res.headers.get("cache-status")).toBe("shield; fwd=request; fwd-status=304; stored");
    expect(origin.count()).toBe(2);
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"n1"');
  });

  it("with cache.honorRequestNoCache, no-store in the request keeps the response out of the cache", async () => {
    const { origin, t } = await h.start(stored(), { cache: { honorRequestNoCache: true } });
    const { res } = await fill(t, "/rns", { headers: { "cache-control": "no-store" } });
    expect(res.headers.get("cache-status")).toBe(
      "shield; fwd=uri-miss; fwd-status=200; detail=request-no-store",
    );
    await fill(t, "/rns");
    expect(origin.count()).toBe(2);
  });

  it("only-if-cached with nothing stored is a 504 without an origin request (§5.2.1.7)", async () => {
    const { origin, t } = await h.start();
    const res = await t.request("/oic", { headers: { "cache-control": "only-if-cached" } });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: "only_if_cached" });
    expect(origin.count()).toBe(0);
  });

  it("max-stale lets a client take a stale copy without revalidation (§5.2.1.2)", async () => {
    const { origin, t } = await h.start(stored());
    await fill(t, "/ms");
    t.advance(70_000);
    const res = await t.request("/ms", { headers: { "cache-control": "max-stale=30" } });
    expect(await res.text()).toBe("stored");
    expect(res.headers.get("cache-status")).toBe("shield; hit; ttl=-10; detail=max-stale");
    expect(origin.count()).toBe(1);
  });
});

describe("TTL rules (config rules, first match wins)", () => {
  it("ttl.set overrides the origin's lifetime for matching paths only", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=10" }, body: "r" }),
      { rules: [{ match: { path: "/static/**" }, ttl: { set: 3600 } }] },
    );
    await fill(t, "/static/app.js");
    await fill(t, "/other");
    t.advance(100_000);
    const kept = await t.request("/static/app.js");
    expect(kept.headers.get("cache-status")).toBe("shield; hit; ttl=3500");
    await fill(t, "/other");
    expect(origin.count()).toBe(3);
  });

  it("ttl.cap shortens a long origin lifetime", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=3600" }, body: "r" }),
      { rules: [{ ttl: { cap: 5 } }] },
    );
    const { res } = await fill(t, "/cap");
    expect(res.headers.get("cache-status")).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect((await t.request("/cap")).headers.get("cache-status")).toBe("shield; hit; ttl=5");
    t.advance(6_000);
    await fill(t, "/cap");
    expect(origin.count()).toBe(2);
  });

  it("ttl.floor raises a short origin lifetime", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=1" }, body: "r" }),
      { rules: [{ ttl: { floor: 120 } }] },
    );
    await fill(t, "/floor");
    t.advance(100_000);
    expect((await t.request("/floor")).headers.get("cache-status")).toBe("shield; hit; ttl=20");
    expect(origin.count()).toBe(1);
  });

  it("bypass: forwarded every time and never stored", async () => {
    const { origin, t } = await h.start(undefined, {
      rules: [{ match: { path: "/api/**" }, bypass: true }],
    });
    for (let i = 0; i < 2; i++) {
      const { res, body } = await fill(t, "/api/items");
      expect(body).toBe("ok");
      expect(res.headers.get("cache-status")).toBe(
        "shield; fwd=bypass; fwd-status=200; detail=rule",
      );
    }
    expect(origin.count()).toBe(2);
  });

  it("a bypass cookie: forwarded with the cookie, never stored, detail=cookie as at the edge", async () => {
    const { origin, t } = await h.start(undefined, { bypassCookies: ["session"] });
    for (let i = 0; i < 2; i++) {
      const { res } = await fill(t, "/page", { headers: { cookie: "theme=dark; session=abc" } });
      expect(res.headers.get("cache-status")).toBe(
        "shield; fwd=bypass; fwd-status=200; detail=cookie",
      );
    }
    expect(origin.count()).toBe(2);
    expect(origin.requests.at(-1)?.headers.cookie).toBe("theme=dark; session=abc");
  });

  it("a rule naming a status caches a response that would not be (a 404 without headers)", async () => {
    const { origin, t } = await h.start(sequence({ status: 404, body: "no such page" }), {
      rules: [{ match: { status: [404] }, ttl: { set: 30 } }],
    });
    await fill(t, "/missing");
    const hit = await t.request("/missing");
    expect(hit.status).toBe(404);
    expect(await hit.text()).toBe("no such page");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=30");
    expect(origin.count()).toBe(1);
  });

  it("a rule never makes a private response shared", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "private, max-age=60" }, body: "mine" }),
      { rules: [{ ttl: { set: 600 } }] },
    );
    const { res } = await fill(t, "/priv");
    expect(res.headers.get("cache-status")).toBe(
      "shield; fwd=uri-miss; fwd-status=200; detail=private",
    );
    await fill(t, "/priv");
    expect(origin.count()).toBe(2);
  });

  it("a rule's staleIfError serves the stored copy when the origin fails", async () => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=10", etag: '"x"' }, body: "kept" }),
      { rules: [{ match: { path: "/**" }, staleIfError: 300 }] },
    );
    await fill(t, "/sie");
    origin.handle((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    t.advance(100_000);
    const res = await t.request("/sie");
    expect(await res.text()).toBe("kept");
    expect(res.headers.get("cache-status")).toBe(
      "shield; fwd=stale; fwd-status=503; ttl=-90; detail=stale-if-error",
    );
  });
});

describe("Authorization (RFC 9111 §3.5)", () => {
  const auth = { headers: { authorization: "Bearer secret" } };

  it("a request with Authorization is not answered from a response stored for an anonymous request", async () => {
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60" });
      res.end(req.headers.authorization === undefined ? "anonymous" : "personal");
    });
    await fill(t, "/page");
    const res = await t.request("/page", auth);
    expect(await res.text()).toBe("personal");
    expect(res.headers.get("cache-status")).toBe(
      "shield; fwd=request; fwd-status=200; detail=authorization",
    );
    expect(origin.requests[1]?.headers.authorization).toBe("Bearer secret");
    // Neither replaced the anonymous copy nor was stored for the next authorised request.
    expect(await (await t.request("/page")).text()).toBe("anonymous");
    expect(await (await t.request("/page", auth)).text()).toBe("personal");
    expect(origin.count()).toBe(3);
  });

  it.each(["public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"])(
    "a response marked shareable (%s) answers requests with Authorization from the cache",
    async (cc) => {
      const { origin, t } = await h.start(
        sequence({ headers: { "cache-control": cc }, body: "shared" }),
      );
      await fill(t, "/s", auth);
      const res = await t.request("/s", auth);
      expect(await res.text()).toBe("shared");
      expect(res.headers.get("cache-status")).toBe("shield; hit; ttl=60");
      expect(origin.count()).toBe(1);
    },
  );

  it("a request with Authorization does not wait on an anonymous request's fill, nor share its response", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { origin, t } = await h.start(async (req, res) => {
      if (req.headers.authorization === undefined) await gate;
      res.writeHead(200, { "cache-control": "max-age=60" });
      res.end(req.headers.authorization === undefined ? "anonymous" : "personal");
    });
    const anonymous = t.request("/late");
    await until(() => origin.count() === 1, "the anonymous fill at the origin");
    const personal = t.request("/late", auth);
    const settled = await Promise.race([
      personal.then(async (r) => r.text()),
      new Promise<string>((r) => setTimeout(() => r("still waiting"), 2_000)),
    ]);
    release();
    expect(settled).toBe("personal");
    expect(await (await anonymous).text()).toBe("anonymous");
    expect(origin.count()).toBe(2);
    expect(origin.requests.map((r) => r.headers.authorization ?? null)).toContain("Bearer secret");
  });
});
