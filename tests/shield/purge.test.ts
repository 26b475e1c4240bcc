/**
 * POST /__shield/purge: by URL, tag or prefix; hard (delete) or soft (mark stale, so the
 * next request revalidates); behind a bearer token, disabled without one.
 */
import { describe, expect, it } from "vitest";
import type { OriginHandler } from "../helpers/origin.ts";
import type { TestShield } from "../helpers/shield.ts";
import { fill, harness } from "./support.ts";

const h = harness();
const TOKEN = "purge-token-0123456789";
const WITH_TOKEN = { shield: { purgeToken: TOKEN } };

/** Cacheable pages tagged by their first path segment; a 304 to a matching validator. */
const tagged: OriginHandler = (req, res) => {
  const path = new URL(req.url ?? "/", "http://o").pathname;
  const etag = `"${path}"`;
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, { "cache-control": "max-age=600", etag });
    res.end();
    return;
  }
  const section = path.split("/")[1] ?? "";
  res.writeHead(200, {
    "cache-control": "max-age=600",
    etag,
    "surrogate-key": `section-${section} all`,
    "cache-tag": `page:${path}`,
  });
  res.end(`page ${path}`);
};

function purge(t: TestShield, body: unknown, token: string | null = TOKEN): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return t.request("/__shield/purge", {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Which of the paths are still answered from the cache (without touching the origin). */
async function cached(t: TestShield, paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const res = await t.request(p, { method: "HEAD" });
    if (res.headers.get("cache-status")?.startsWith("shield; hit") === true) out.push(p);
  }
  return out;
}

const PATHS = ["/news/1", "/news/2", "/shop/1", "/shop/news"] as const;

describe("purge (hard)", () => {
  it.each([
    {
      by: "url",
      body: { urls: ["http://example.com/news/1"] },
      left: ["/news/2", "/shop/1", "/shop/news"],
    },
    {
      by: "tag (Surrogate-Key)",
      body: { tags: ["section-news"] },
      left: ["/shop/1", "/shop/news"],
    },
    {
      by: "tag (Cache-Tag)",
      body: { tags: ["page:/shop/1"] },
      left: ["/news/1", "/news/2", "/shop/news"],
    },
    {
      by: "prefix",
      body: { prefixes: ["http://example.com/news/"] },
      left: ["/shop/1", "/shop/news"],
    },
    {
      by: "several at once",
      body: { urls: ["http://example.com/shop/1"], tags: ["section-news"] },
      left: ["/shop/news"],
    },
    { by: "a tag on every page", body: { tags: ["all"] }, left: [] },
  ])("by $by removes exactly the matching responses", async (c) => {
    const { origin, t } = await h.start(tagged, WITH_TOKEN);
    for (const p of PATHS) await fill(t, p);
    const res = await purge(t, c.body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ purged: alone(PATHS.length - c.left.length), soft: false });
    const before = origin.count();
    expect(await cached(t, PATHS)).toEqual(c.left);
    // The purged ones went back to the origin (HEAD misses are filled with a GET).
    await t.shield.drain();
    expect(origin.count() - before).toBe(PATHS.length - c.left.length);
  });

  it("a URL is normalised like a request (query order, default port)", async () => {
    const { t } = await h.start(tagged, WITH_TOKEN);
    await fill(t, "/q?b=2&a=1");
    const res = await purge(t, { urls: ["http://EXAMPLE.com:80/q?a=1&b=2"] });
    expect(await res.json()).toEqual({ purged: alone(1), soft: false });
  });

  it("purges every variant of a URL", async () => {
    const { t } = await h.start((req, res) => {
      res.writeHead(200, { "cache-control": "max-age=600", vary: "Accept-Encoding" });
      res.end(String(req.headers["accept-encoding"]));
    }, WITH_TOKEN);
    await fill(t, "/v", { headers: { "accept-encoding": "gzip" } });
    await fill(t, "/v", { headers: { "accept-encoding": "br" } });
    expect(await (await purge(t, { urls: ["http://example.com/v"] })).json()).toEqual({
      purged: alone(2),
      soft: false,
    });
  });

  it("purging nothing stored answers purged: 0", async () => {
    const { t } = await h.start(tagged, WITH_TOKEN);
    expect(await (await purge(t, { tags: ["nothing"] })).json()).toEqual({
      purged: alone(0),
      soft: false,
    });
  });
});

describe("purge by tag after an entry was replaced", () => {
  it("purging a tag the stored response no longer carries reports 0 and spares it", async () => {
    let version = 1;
    const { t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", "surrogate-key": `release-${version}` });
      res.end(`v${version}`);
    }, WITH_TOKEN);
    expect((await fill(t, "/doc")).body).toBe("v1");
    version = 2;
    t.advance(61_000);
    expect((await fill(t, "/doc")).body).toBe("v2");
    const old = await purge(t, { tags: ["release-1"] });
    expect(await old.json()).toEqual({ purged: alone(0), soft: false });
    expect(await cached(t, ["/doc"])).toEqual(["/doc"]);
    const current = await purge(t, { tags: ["release-2"] });
    expect(await current.json()).toEqual({ purged: alone(1), soft: false });
    expect(await cached(t, ["/doc"])).toEqual([]);
  });
});

describe("soft purge", () => {
  it("marks the response stale: the next request revalidates with the origin (304) instead of refetching", async () => {
    const { origin, t } = await h.start(tagged, WITH_TOKEN);
    await fill(t, "/news/1");
    t.advance(10_000);
    const res = await purge(t, { tags: ["section-news"], soft: true });
    expect(await res.json()).toEqual({ purged: alone(1), soft: true });

    const next = await t.request("/news/1");
    expect(await next.text()).toBe("page /news/1");
    expect(next.headers.get("cache-status")).toBe("shield; fwd=stale; fwd-status=304; stored");
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"/news/1"');
    // Fresh again after the 304.
    const hit = await t.request("/news/1");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=600");
    expect(origin.count()).toBe(2);
  });

  it("keeps stale-while-revalidate: the next request gets the stale copy while one revalidation runs", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, {
        "cache-control": "max-age=600, stale-while-revalidate=60",
        etag: '"s"',
      });
      res.end("swr");
    }, WITH_TOKEN);
    await fill(t, "/s");
    await purge(t, { urls: ["http://example.com/s"], soft: true });
    const stale = await t.request("/s");
    expect(await stale.text()).toBe("swr");
    expect(stale.headers.get("cache-status")).toBe(
      "shield; hit; ttl=0; detail=stale-while-revalidate",
    );
    await t.shield.drain();
    expect(origin.count()).toBe(2);
  });
});

describe("soft purge and stale-if-error (RFC 5861 §4)", () => {
  it("the stale-if-error window starts at the purge: stale on an origin error within it, the error after it", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=600, stale-if-error=30", etag: '"e"' });
      res.end("copy");
    }, WITH_TOKEN);
    await fill(t, "/sie");
    await purge(t, { urls: ["http://example.com/sie"], soft: true });
    origin.handle((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    t.advance(20_000);
    const within = await t.request("/sie");
    expect(await within.text()).toBe("copy");
    expect(within.headers.get("cache-status")).toBe(
      "shield; fwd=stale; fwd-status=503; ttl=-20; detail=stale-if-error",
    );
    t.advance(20_000);
    const after = await t.request("/sie");
    expect(after.status).toBe(503);
  });
});

describe("purge access and validation", () => {
  it("is disabled (403) when no token is configured", async () => {
    const { t } = await h.start(tagged);
    await fill(t, "/news/1");
    const res = await purge(t, { urls: ["http://example.com/news/1"] }, "anything-at-all-0123");
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "purge_disabled" });
    expect(await cached(t, ["/news/1"])).toEqual(["/news/1"]);
  });

  it.each([
    { name: "no Authorization", token: null },
    { name: "a wrong token", token: "purge-token-0123456780" },
    { name: "a prefix of the token", token: TOKEN.slice(0, -1) },
  ])("rejects $name with 401 and WWW-Authenticate", async (c) => {
    const { t } = await h.start(tagged, WITH_TOKEN);
    await fill(t, "/news/1");
    const res = await purge(t, { urls: ["http://example.com/news/1"] }, c.token);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(await res.json()).toMatchObject({ error: "unauthorized" });
    expect(await cached(t, ["/news/1"])).toEqual(["/news/1"]);
  });

  it.each([
    { name: "a relative URL", body: { urls: ["/news/1"] }, path: "urls.0" },
    { name: "a non-http URL", body: { prefixes: ["ftp://example.com/"] }, path: "prefixes.0" },
    {
      name: "soft not a boolean",
      body: { urls: ["http://example.com/a"], soft: "yes" },
      path: "soft",
    },
    { name: "an empty tag", body: { tags: [""] }, path: "tags.0" },
    { name: "an unknown field", body: { url: ["http://example.com/a"] }, path: "" },
    { name: "nothing to purge", body: {}, path: "" },
  ])("rejects $name with 400 naming the field", async (c) => {
    const { t } = await h.start(tagged, WITH_TOKEN);
    const res = await purge(t, c.body);
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: string;
      issues: { path: string; message: string }[];
    };
    expect(body.error).toBe("bad_purge");
    expect(body.issues.map((i) => i.path)).toContain(c.path);
    expect(body.issues.every((i) => i.message.length > 0)).toBe(true);
  });

  it("names the unknown field in the message", async () => {
    const { t } = await h.start(tagged, WITH_TOKEN);
    const body = (await (await purge(t, { url: ["http://example.com/a"] })).json()) as {
      issues: { message: string }[];
    };
    expect(JSON.stringify(body.issues)).toContain("url");
  });

  it("rejects a body that is not JSON with 400 bad_json", async () => {
    const { t } = await h.start(tagged, WITH_TOKEN);
    const res = await purge(t, "{urls:");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "bad_json" });
  });

  it("works over a real socket, and GET is not a purge", async () => {
    const { origin, t } = await h.start(tagged, WITH_TOKEN);
    const base = await t.listen();
    await (await fetch(`${base}/news/1`)).text();
    await t.shield.drain();
    const wrong = await fetch(`${base}/__shield/purge`);
    expect(wrong.status).toBe(404);
    const res = await fetch(`${base}/__shield/purge`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      // The key names the host and port the client used.
      body: JSON.stringify({ urls: [`${base}/news/1`] }),
    });
    expect(await res.json()).toEqual({ purged: alone(1), soft: false });
    expect(origin.count()).toBe(1);
  });
});

/** What a purge reports on a node alone: no Redis, no other node, no edge zone. */
function alone(local: number) {
  return { local, nodes: null, redis: null, edge: "off" };
}
