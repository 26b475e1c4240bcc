import { describe, expect, it } from "vitest";
import { parseCacheStatus } from "../../core/http/cache-status.ts";
import {
  cdnConfig,
  received,
  receivedAll,
  SHIELDS,
  scriptAll,
  testEdge,
  uniquePath,
} from "./support/edge.ts";

const SHIELD_MISS = "shield; fwd=uri-miss; stored";

/** Every test runs with the memory tier (the default) and against the Cache API alone. */
const TIERS = [
  ["memory tier and Cache API", {}],
  ["Cache API only", { memory: { enabled: false } }],
] as const;

describe.each(TIERS)("%s", (_tiers, edgePatch) => {
  const config = (patch: Parameters<typeof cdnConfig>[0] = {}) =>
    cdnConfig({ ...patch, edge: { ...edgePatch, ...patch.edge } });

  describe("the edge caches what the policy allows", () => {
    it("a miss goes to the shield once; the next request is an edge hit with Age", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, {
        headers: {
          "cache-control": "max-age=60",
          "cache-status": SHIELD_MISS,
          "content-type": "text/plain",
        },
        body: "hello",
      });

      const first = await edge.send(path);
      expect(first.status).toBe(200);
      expect(first.text).toBe("hello");
      // Origin side first (RFC 9211 §2): the shield's member, then the edge's.
      expect(first.headers.get("cache-status")).toBe(
        `${SHIELD_MISS}, edge; fwd=uri-miss; fwd-status=200; stored`,
      );

      edge.advance(10);
      const second = await edge.send(path);
      expect(second.text).toBe("hello");
      expect(second.headers.get("content-type")).toBe("text/plain");
      // The shield's member of the fill is kept before the edge's (RFC 9211 §2).
      expect(second.headers.get("cache-status")).toBe(`${SHIELD_MISS}, edge; hit; ttl=50`);
      expect(second.headers.get("age")).toBe("10");
      expect(await receivedAll(path)).toHaveLength(1);
    });

    it("counts the Age the shield reported into the edge's freshness (RFC 9111 §4.2.3)", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, { headers: { "cache-control": "max-age=60", age: "50" }, body: "x" });
      await edge.send(path);
      edge.advance(5);
      const hit = await edge.send(path);
      expect(hit.headers.get("age")).toBe("55");
      expect(hit.headers.get("cache-status")).toBe("edge; hit; ttl=5");
      edge.advance(6);
      const stale = await edge.send(path);
      expect(stale.headers.get("cache-status")).toMatch(
        /^edge; fwd=stale; fwd-status=200; stored$/,
      );
      expect(await receivedAll(path)).toHaveLength(2);
    });

    it("answers HEAD from a stored GET, and stores a GET for a HEAD miss", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "0123456789" });
      const head = await edge.send(path, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.bytes).toHaveLength(0);
      const logs = await receivedAll(path);
      expect(logs.map((l) => l.method)).toEqual(["GET"]);
      const get = await edge.send(path);
      expect(get.text).toBe("0123456789");
      expect(get.headers.get("cache-status")).toMatch(/^edge; hit/);
      const head2 = await edge.send(path, { method: "HEAD" });
      expect(head2.bytes).toHaveLength(0);
      expect(head2.headers.get("content-length")).toBe("10");
      expect(await receivedAll(path)).toHaveLength(1);
    });

    it.each([
      ["private", { "cache-control": "private, max-age=60" }, "private"],
      ["no-store", { "cache-control": "no-store" }, "no-store"],
      ["Set-Cookie", { "cache-control": "max-age=60", "set-cookie": "sid=1" }, "set-cookie"],
      ["Vary: *", { "cache-control": "max-age=60", vary: "*" }, "vary-star"],
    ])("does not store a %s response, and says why", async (_name, headers, reason) => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, { headers, body: "mine" });
      const first = await edge.send(path);
      expect(first.text).toBe("mine");
      expect(first.headers.get("cache-status")).toBe(
        `edge; fwd=uri-miss; fwd-status=200; detail=${reason}`,
      );
      await edge.send(path);
      expect(await receivedAll(path)).toHaveLength(2);
    });

    it("passes Set-Cookie on to the client of an uncached response", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, { headers: { "set-cookie": "a=1; Path=/" }, body: "x" });
      const res = await edge.send(path);
      expect(res.headers.getSetCookie()).toEqual(["a=1; Path=/"]);
    });

    it("obeys CDN-Cache-Control over Cache-Control (RFC 9213)", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, {
        headers: { "cache-control": "no-store", "cdn-cache-control": "max-age=30" },
        body: "x",
      });
      await edge.send(path);
      const hit = await edge.send(path);
      expect(hit.headers.get("cache-status")).toBe("edge; hit; ttl=30");
      // The client still sees the origin's own instructions for browsers.
      expect(hit.headers.get("cache-control")).toBe("no-store");
      expect(await receivedAll(path)).toHaveLength(1);
    });

    it("applies TTL rules from the config", async () => {
      const edge = testEdge(
        config({ rules: [{ name: "t", match: { path: "/t/**" }, ttl: { set: 300 } }] }),
      );
      const path = uniquePath();
      await scriptAll(path, { headers: { "cache-control": "max-age=5" }, body: "x" });
      await edge.send(path);
      edge.advance(100);
      const hit = await edge.send(path);
      expect(hit.headers.get("cache-status")).toBe("edge; hit; ttl=200");
      expect(await receivedAll(path)).toHaveLength(1);
    });

    it("answers a client's conditional GET with 304 from a stored response", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, {
        headers: { "cache-control": "max-age=60", etag: '"v1"', "content-type": "text/plain" },
        body: "body",
      });
      // On the miss the edge fetches the whole response (it stores it) and answers the
      // condition itself.
      const miss = await edge.send(path, { headers: { "if-none-match": '"v1"' } });
      expect(miss.status).toBe(304);
      expect(miss.bytes).toHaveLength(0);
      const forwarded = (await receivedAll(path))[0]!;
      expect(forwarded.headers["if-none-match"]).toBeUndefined();
      const hit = await edge.send(path, { headers: { "if-none-match": 'W/"v1", "v0"' } });
      expect(hit.status).toBe(304);
      expect(hit.headers.get("etag")).toBe('"v1"');
      expect(hit.headers.get("cache-status")).toMatch(/^edge; hit/);
      const other = await edge.send(path, { headers: { "if-none-match": '"v2"' } });
      expect(other.status).toBe(200);
      expect(other.text).toBe("body");
      expect(await receivedAll(path)).toHaveLength(1);
    });

    it("caches 404s the origin marks cacheable, with their status", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, {
        status: 404,
        headers: { "cache-control": "max-age=60" },
        body: "nope",
      });
      await edge.send(path);
      const hit = await edge.send(path);
      expect(hit.status).toBe(404);
      expect(hit.text).toBe("nope");
      expect(hit.headers.get("cache-status")).toMatch(/^edge; hit/);
    });

    it("keeps the status and Location of a cached redirect, without following it", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, {
        status: 301,
        headers: { location: "https://edge.test/elsewhere", "cache-control": "max-age=60" },
      });
      const first = await edge.send(path);
      expect(first.status).toBe(301);
      const hit = await edge.send(path);
      expect(hit.status).toBe(301);
      expect(hit.headers.get("location")).toBe("https://edge.test/elsewhere");
      expect(await receivedAll(path)).toHaveLength(1);
    });

    it("gives every response a Cache-Status member from the edge", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, { headers: { "cache-control": "max-age=1" }, body: "x" });
      const statuses = [
        (await edge.send(path)).headers,
        (await edge.send(path)).headers,
        (await edge.send(path, { method: "POST", body: "b" })).headers,
        (await edge.send("https://nobody.example/x")).headers,
        (await edge.send("/img/nonsense/a.jpg")).headers,
      ].map((h) => parseCacheStatus(h.get("cache-status")).at(-1)?.cache);
      expect(statuses).toEqual(["edge", "edge", "edge", "edge", "edge"]);
    });

    it("signs Cache-Status with the configured name", async () => {
      const edge = testEdge(config({ edge: { cacheStatusName: "cdn-pop" } }));
      const path = uniquePath();
      await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "x" });
      await edge.send(path);
      expect((await edge.send(path)).headers.get("cache-status")).toBe("cdn-pop; hit; ttl=60");
      const via = (await received(SHIELDS[0]!, path)).concat(
        await received(SHIELDS[1]!, path),
        await received(SHIELDS[2]!, path),
      )[0]!.headers.via;
      expect(via).toBe("1.1 cdn-pop");
    });
  });

  describe("cache keys are normalised with core/key", () => {
    it("shares one entry across parameter order and tracking parameters, and forwards the normalised URL", async () => {
      const edge = testEdge(config());
      const path = uniquePath("search");
      await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "results" });
      const a = await edge.send(`${path}?q=shoes&page=2&utm_source=mail`);
      const b = await edge.send(`${path}?page=2&fbclid=abc&q=shoes`);
      const c = await edge.send(`https://EDGE.test:443${path}?gclid=1&q=shoes&page=2`);
      expect([a.text, b.text, c.text]).toEqual(["results", "results", "results"]);
      expect(b.headers.get("cache-status")).toMatch(/^edge; hit/);
      expect(c.headers.get("cache-status")).toMatch(/^edge; hit/);
      const logs = await receivedAll(path);
      expect(logs).toHaveLength(1);
      // The parameters left out of the key never reach the shield (cache poisoning).
      expect(logs[0]!.url).toBe(`${path}?page=2&q=shoes`);
    });

    it("keeps different parameter values apart", async () => {
      const edge = testEdge(config());
      const path = uniquePath("p");
      await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "x" });
      await edge.send(`${path}?page=1`);
      await edge.send(`${path}?page=2`);
      await edge.send(`${path}?page=1`);
      expect(await receivedAll(path)).toHaveLength(2);
    });

    it("keys on configured cookies: one entry per value, others ignored", async () => {
      const edge = testEdge(config({ key: { cookies: ["currency"] } }));
      const path = uniquePath();
      await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "x" });
      await edge.send(path, { headers: { cookie: "currency=EUR; theme=dark" } });
      await edge.send(path, { headers: { cookie: "theme=light; currency=EUR" } });
      const usd = await edge.send(path, { headers: { cookie: "currency=USD" } });
      expect(usd.headers.get("cache-status")).toMatch(/^edge; fwd=uri-miss/);
      expect(await receivedAll(path)).toHaveLength(2);
    });
  });

  describe("misdirected requests", () => {
    it("answers 421 with a stable code for a host no origin serves, without any fetch", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      const res = await edge.send(`https://unknown.example${path}`);
      expect(res.status).toBe(421);
      expect(JSON.parse(res.text)).toMatchObject({ error: "unknown_host" });
      expect(res.headers.get("cache-status")).toBe("edge; detail=unknown_host");
      expect(await receivedAll(path)).toHaveLength(0);
    });

    it("routes wildcard hosts, and takes the port off before matching", async () => {
      const edge = testEdge(config());
      const path = uniquePath();
      await scriptAll(path, { body: "ok" });
      expect((await edge.send(`https://a.b.edge.test:8443${path}`)).text).toBe("ok");
      const logs = await receivedAll(path);
      expect(logs[0]!.headers["x-forwarded-host"]).toBe("a.b.edge.test:8443");
    });
  });
});
