/**
 * Who receives a response fetched for someone else: the sharing rule at the shield, over
 * real sockets, against an origin that answers the way Express or Rails do by default
 * (an ETag, no Cache-Control) and shows each user their own page.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../helpers/origin.ts";
import { harness } from "./support.ts";

const h = harness();
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

/** The user a request is for: the session cookie's value, or "anonymous". */
function userOf(req: IncomingMessage): string {
  return /session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1] ?? "anonymous";
}

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  agent ??= new Agent({ connections: 200 });
  const res = await request(`${base}${path}`, { dispatcher: agent, headers });
  return {
    status: res.statusCode,
    cs: String(res.headers["cache-status"] ?? ""),
    body: await res.body.text(),
  };
}

describe("a page fetched with a cookie is not shared unless explicitly shareable", () => {
  it("max-stale and only-if-cached never get Alice's page (it was never stored)", async () => {
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(200, { "content-type": "text/html", etag: `"${userOf(req)}"` });
      res.end(`account of ${userOf(req)}`);
    });
    const base = await t.listen();
    const alice = await get(base, "/account", { cookie: "session=alice" });
    expect(alice.body).toBe("account of alice");
    expect(alice.cs).toBe("shield; fwd=uri-miss; fwd-status=200; detail=cookie");
    t.advance(2_000);
    const anyone = await get(base, "/account", { "cache-control": "max-stale, only-if-cached" });
    expect(anyone.status).toBe(504);
    expect(anyone.body).not.toContain("alice");
    expect(origin.count()).toBe(1);
  });

  it("a copy kept only for revalidation is revalidated for a max-stale request, never served as it is", async () => {
    const { origin, t } = await h.start((req, res) => {
      if (req.headers["if-none-match"] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' }).end();
        return;
      }
      res.writeHead(200, { "content-type": "text/html", etag: '"v1"' });
      res.end("public page");
    });
    const base = await t.listen();
    await get(base, "/page");
    await t.shield.drain();
    t.advance(2_000);
    const stale = await get(base, "/page", { "cache-control": "max-stale=3600" });
    expect(stale.body).toBe("public page");
    expect(stale.cs).not.toMatch(/hit/);
    expect(stale.cs).toMatch(/^shield; fwd=stale; fwd-status=304/);
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"v1"');
    const unsatisfied = await get(base, "/page", {
      "cache-control": "max-stale, only-if-cached",
    });
    expect(unsatisfied.status).toBe(504);
  });

  it("Last-Modified alone (heuristic freshness) is not shared when the request had a cookie", async () => {
    const modified = new Date(Date.UTC(2026, 0, 1)).toUTCString();
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(200, { "content-type": "text/html", "last-modified": modified });
      res.end(`page for ${userOf(req)}`);
    });
    const base = await t.listen();
    const alice = await get(base, "/home", { cookie: "session=alice" });
    expect(alice.cs).toMatch(/detail=cookie/);
    const bob = await get(base, "/home", { cookie: "session=bob" });
    expect(bob.body).toBe("page for bob");
    const anonymous = await get(base, "/home");
    expect(anonymous.body).toBe("page for anonymous");
    expect(origin.count()).toBe(3);
    // The anonymous page, fresh by the same heuristic, is shared.
    const later = await get(base, "/home", { cookie: "session=carol" });
    expect(later.cs).toMatch(/^shield; hit/);
    expect(later.body).toBe("page for anonymous");
  });

  it("an asset with max-age fetched with a cookie stays shared (as at Cloudflare and Fastly)", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, { "content-type": "text/css", "cache-control": "max-age=600" });
      res.end("body{}");
    });
    const base = await t.listen();
    const first = await get(base, "/site.css", { cookie: "session=alice" });
    expect(first.cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    const second = await get(base, "/site.css");
    expect(second.cs).toMatch(/^shield; hit/);
    expect(origin.count()).toBe(1);
  });

  it("cookies the key holds are not credentials: a page keyed by them is shared per value", async () => {
    const modified = new Date(Date.UTC(2026, 0, 1)).toUTCString();
    const { origin, t } = await h.start(
      (req, res) => {
        const currency = /currency=(\w+)/.exec(req.headers.cookie ?? "")?.[1] ?? "none";
        res.writeHead(200, { "content-type": "text/html", "last-modified": modified });
        res.end(`prices in ${currency}`);
      },
      { key: { cookies: ["currency"] } },
    );
    const base = await t.listen();
    await get(base, "/prices", { cookie: "currency=EUR" });
    const again = await get(base, "/prices", { cookie: "currency=EUR" });
    expect(again.cs).toMatch(/^shield; hit/);
    const usd = await get(base, "/prices", { cookie: "currency=USD" });
    expect(usd.body).toBe("prices in USD");
    expect(origin.count()).toBe(2);
  });
});

describe("TTL rules and the sharing rule", () => {
  it("a rule whose match names the path shares a page fetched with a cookie", async () => {
    const { origin, t } = await h.start(
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/html", etag: '"d"' });
        res.end("documentation");
      },
      {
        rules: [
          { name: "docs", match: { path: "/docs/**" }, ttl: { set: 300 } },
          { name: "all", ttl: { floor: 300 } },
        ],
      },
    );
    const base = await t.listen();
    const docs = await get(base, "/docs/intro", { cookie: "session=alice" });
    expect(docs.cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect((await get(base, "/docs/intro")).cs).toMatch(/^shield; hit/);
    // The catch-all floor names no path: an origin page it lifts is still the user's.
    const modified = new Date(Date.UTC(2026, 0, 1)).toUTCString();
    origin.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/html", "last-modified": modified });
      res.end("account");
    });
    const account = await get(base, "/account", { cookie: "session=alice" });
    expect(account.cs).toMatch(/detail=cookie/);
  });
});

describe("collapsed followers get only what the sharing rule allows", () => {
  it.each([
    ["an ETag and no Cache-Control", { etag: '"me"' }],
    ["no-cache and an ETag", { etag: '"me"', "cache-control": "no-cache" }],
  ])("Bob never streams Alice's fill of /me (%s)", async (_name, fields) => {
    const { origin, t } = await h.start(async (req, res) => {
      await sleep(req.headers.cookie?.includes("alice") ? 1_000 : 50);
      res.writeHead(200, { "content-type": "text/html", ...fields });
      res.end(`profile of ${userOf(req)}`);
    });
    const base = await t.listen();
    const alice = get(base, "/me", { cookie: "session=alice" });
    await sleep(200);
    const bob = await get(base, "/me", { cookie: "session=bob" });
    expect(bob.body).toBe("profile of bob");
    expect(bob.cs).not.toMatch(/collapsed/);
    expect((await alice).body).toBe("profile of alice");
    expect(origin.count()).toBe(2);
  });

  it("a follower does not share a no-cache response fetched by an anonymous leader", async () => {
    let n = 0;
    const { origin, t } = await h.start(async (_req, res) => {
      const mine = ++n;
      await sleep(mine === 1 ? 600 : 20);
      res.writeHead(200, { "cache-control": "no-cache", etag: `"${mine}"` });
      res.end(`version ${mine}`);
    });
    const base = await t.listen();
    const first = get(base, "/news");
    await sleep(150);
    const second = await get(base, "/news");
    expect(second.cs).not.toMatch(/collapsed/);
    expect(second.body).toBe("version 2");
    await first;
    expect(origin.count()).toBe(2);
  });

  it("followers still share a fresh, storable response (the herd costs one fetch)", async () => {
    const { origin, t } = await h.start(async (_req, res) => {
      await sleep(300);
      res.writeHead(200, { "cache-control": "max-age=60" });
      res.end("shared");
    });
    const base = await t.listen();
    const all = await Promise.all(
      Array.from({ length: 30 }, (_, i) => get(base, "/s", { cookie: `session=u${i}` })),
    );
    expect(origin.count()).toBe(1);
    expect(all.filter((r) => r.cs.endsWith("collapsed"))).toHaveLength(29);
  });
});

describe("default and rule stale windows", () => {
  it("a page with no cache headers is not served stale under cache.defaultStaleWhileRevalidate", async () => {
    const { origin, t } = await h.start(
      (req, res) => {
        if (req.headers["if-none-match"] === '"p"') {
          res.writeHead(304, { etag: '"p"' }).end();
          return;
        }
        res.writeHead(200, { "content-type": "text/html", etag: '"p"' });
        res.end("page");
      },
      { cache: { defaultStaleWhileRevalidate: 60 } },
    );
    const base = await t.listen();
    await get(base, "/plain");
    await t.shield.drain();
    t.advance(1_000);
    const next = await get(base, "/plain");
    expect(next.cs).not.toMatch(/stale-while-revalidate/);
    expect(next.cs).toMatch(/^shield; fwd=stale; fwd-status=304/);
    expect(origin.count()).toBe(2);
  });

  it("the shipped example config's staleIfError for HTML applies only to pages with an explicit lifetime", async () => {
    const example = JSON.parse(readFileSync("examples/shield.config.json", "utf8")) as {
      rules: unknown[];
    };
    let failing = false;
    const { t } = await h.start(
      (req, res) => {
        if (failing) {
          res.writeHead(503, { "content-type": "text/plain" }).end("down");
          return;
        }
        const explicit = req.url === "/explicit";
        res.writeHead(200, {
          "content-type": "text/html",
          etag: '"h"',
          ...(explicit ? { "cache-control": "max-age=10" } : {}),
        });
        res.end(`html ${req.url}`);
      },
      { rules: example.rules as never },
    );
    const base = await t.listen();
    await get(base, "/plain");
    await get(base, "/explicit");
    await t.shield.drain();
    t.advance(20_000);
    failing = true;
    const plain = await get(base, "/plain");
    expect(plain.status).toBe(503);
    const explicit = await get(base, "/explicit");
    expect(explicit.status).toBe(200);
    expect(explicit.cs).toMatch(/detail=stale-if-error/);
  });
});

describe("hit-for-miss", () => {
  it("one request with Authorization does not stop anonymous requests from collapsing", async () => {
    const { origin, t } = await h.start(async (req, res) => {
      await sleep(200);
      res.writeHead(200, { "cache-control": "max-age=60" });
      res.end(req.headers.authorization === undefined ? "for everyone" : "for the user");
    });
    const base = await t.listen();
    const authed = await get(base, "/feed", { authorization: "Bearer x" });
    expect(authed.cs).toMatch(/detail=authorization/);
    const herd = await Promise.all(Array.from({ length: 50 }, () => get(base, "/feed")));
    expect(herd.every((r) => r.body === "for everyone")).toBe(true);
    expect(origin.count()).toBe(2);
  });

  it("a private answer to a request with a cookie does not stop anonymous requests from collapsing", async () => {
    const { origin, t } = await h.start(async (req, res) => {
      await sleep(200);
      const user = userOf(req);
      res.writeHead(200, {
        "cache-control": user === "anonymous" ? "max-age=60" : "private",
      });
      res.end(`for ${user}`);
    });
    const base = await t.listen();
    await get(base, "/home", { cookie: "session=alice" });
    const herd = await Promise.all(Array.from({ length: 20 }, () => get(base, "/home")));
    expect(herd.every((r) => r.body === "for anonymous")).toBe(true);
    expect(origin.count()).toBe(2);
    // The anonymous page is stored, and like any shared page it is what Bob gets too.
    const bob = await get(base, "/home", { cookie: "session=bob" });
    expect(bob.cs).toMatch(/^shield; hit/);
  });
});
