/**
 * Two tiers behave as one: the real Worker under `wrangler dev` (workerd), a real shield
 * process (the bundle `npm run shield` runs) and a loopback origin that counts requests
 * and changes its header values between them. Each case runs through the whole stack
 * what the tier tests check of each tier alone: a 304 from the origin updates the
 * stored fields at both tiers (RFC 9111 §4.3.4) without touching those that describe
 * the body (§3.2), a 304 for another strong ETag freshens nothing, an edge hit keeps the
 * shield's Cache-Status member (RFC 9211 §2), stale-while-revalidate costs the origin one
 * refresh, a purge at the shield reaches the edge at its next revalidation, and
 * stale-if-error holds with the shield down.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { OutgoingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildNode } from "../../scripts/build-node.mjs";
import { type SeenRequest, sleep, startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { freePort, HOST, processGroup } from "../helpers/processes.ts";

const PURGE_TOKEN = "two-tier-purge-token-0123456789";

/**
 * What the origin holds at a path: it answers a request whose If-None-Match names the
 * ETag with a 304 carrying `headers` (or `notModified` when set: a 304 that differs from
 * the 200), and anything else with a 200 carrying `headers` and `body`.
 */
interface Resource {
  etag: string;
  body: string;
  headers: Record<string, string>;
  notModified?: Record<string, string>;
}

const resources = new Map<string, Resource>();
let origin: TestOrigin;
let shield: ChildProcess | undefined;
let edge: ChildProcess | undefined;
let shieldUrl = "";
let edgeUrl = "";
let dir = "";
const group = processGroup();

function httpDate(offsetSeconds = 0): string {
  return new Date(Date.now() + offsetSeconds * 1000).toUTCString();
}

/** The origin's requests for `path`, in order. */
function seen(path: string): SeenRequest[] {
  return origin.requests.filter((r) => r.url === path);
}

/** GET (or another method) through the edge, body read. */
async function get(path: string, init: RequestInit = {}) {
  // identity: the local runtime would otherwise gzip text on its way to the client, and
  // drop Content-Length.
  const headers = new Headers(init.headers);
  if (!headers.has("accept-encoding")) headers.set("accept-encoding", "identity");
  const res = await fetch(`${edgeUrl}${path}`, { ...init, headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/**
 * The first request for `path`, then polls until the edge answers from its own copy: it
 * stores after answering (waitUntil), and hits ask nothing of the shield or the origin.
 */
async function fill(path: string) {
  const first = await get(path);
  await eventually(
    async () => /, edge; hit; ttl=\d+$/.test((await get(path)).headers.get("cache-status") ?? ""),
    `the edge stores ${path}`,
  );
  return first;
}

/**
 * Waits out a max-age=2 (the Date the shield stores has whole seconds, so the edge may
 * count up to one second of age on arrival): a wait for the clock, not a timed assertion.
 */
const untilStale = () => sleep(2_500);

/** Polls until `check` holds: for work the edge does after answering (waitUntil). */
async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`never happened: ${what}`);
}

beforeAll(async () => {
  origin = await startOrigin((req, res) => {
    const resource = resources.get(req.url ?? "");
    if (resource === undefined) {
      res.writeHead(404, { "content-type": "text/plain", "cache-control": "no-store" });
      res.end("no such resource");
      return;
    }
    const date = { date: httpDate() };
    if (req.headers["if-none-match"] === resource.etag) {
      const fields = resource.notModified ?? { ...resource.headers, etag: resource.etag };
      res.writeHead(304, { ...date, ...fields } as OutgoingHttpHeaders);
      res.end();
      return;
    }
    const body = Buffer.from(resource.body);
    res.writeHead(200, {
      ...date,
      "content-type": "text/plain",
      "content-length": String(body.length),
      etag: resource.etag,
      ...resource.headers,
    });
    res.end(body);
  });
  dir = mkdtempSync(join(tmpdir(), "two-tier-"));
  const [shieldPort, edgePort] = [await freePort(), await freePort()];
  const shieldConfig = {
    origins: [{ name: "o", url: origin.url, hosts: [HOST, "localhost"] }],
    shield: { purgeToken: PURGE_TOKEN },
  };
  const configFile = join(dir, "shield.json");
  writeFileSync(configFile, JSON.stringify(shieldConfig));
  const bundle = await buildNode("origin-shield/main.ts", "dist/e2e/two-tier-shield.mjs");
  shield = group.launch("shield", process.execPath, [
    bundle,
    "--config",
    configFile,
    "--port",
    String(shieldPort),
    "--log-level",
    "warn",
  ]);
  shieldUrl = `http://${HOST}:${shieldPort}`;
  await group.ready(`${shieldUrl}/__shield/health`, shield, "shield", 20_000);

  // The edge alone keeps /purge/ entries for no time at all, so that each request there
  // revalidates with the shield, which still holds them fresh.
  const edgeConfig = {
    origins: [{ name: "e2e", url: origin.url, hosts: [HOST, "localhost"] }],
    rules: [{ name: "edge-revalidates", match: { path: "/purge/**" }, ttl: { set: 0 } }],
  };
  ({ child: edge, url: edgeUrl } = await group.startEdge({
    port: edgePort,
    state: join(dir, "state"),
    nodes: shieldUrl,
    config: edgeConfig,
  }));
}, 90_000);

afterAll(async () => {
  await Promise.all([group.stop(edge), group.stop(shield)]);
  await origin?.close();
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
}, 20_000);

describe("a 304 from the origin, through the shield to the edge (RFC 9111 §4.3.4)", () => {
  it("updates Test-Header, Content-Foo and max-age at both tiers; the body and its length stay", async () => {
    const path = "/fields";
    const body = "the same body, revalidated";
    resources.set(path, {
      etag: '"f1"',
      body,
      headers: { "cache-control": "max-age=2", "test-header": "1", "content-foo": "1" },
    });
    const first = await fill(path);
    expect(first.headers.get("test-header")).toBe("1");
    await untilStale();

    // The origin changes its fields; both tiers' copies are stale and revalidate.
    resources.set(path, {
      etag: '"f1"',
      body,
      headers: { "cache-control": "max-age=300", "test-header": "2", "content-foo": "2" },
    });
    const revalidated = await get(path);
    const hit = await get(path);
    for (const res of [revalidated, hit]) {
      expect(res.status).toBe(200);
      expect(res.body).toBe(body);
      expect(res.headers.get("test-header")).toBe("2");
      expect(res.headers.get("content-foo")).toBe("2");
      expect(res.headers.get("cache-control")).toBe("max-age=300");
      expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(body)));
      expect(res.headers.get("etag")).toBe('"f1"');
    }
    expect(revalidated.headers.get("cache-status")).toMatch(
      /^shield; fwd=stale; fwd-status=304; stored, edge; fwd=stale; fwd-status=304; stored$/,
    );
    // The renewed max-age made the edge's copy fresh: a hit, the shield's member kept.
    expect(hit.headers.get("cache-status")).toMatch(
      /^shield; fwd=stale; fwd-status=304; stored, edge; hit; ttl=\d+$/,
    );
    const asked = seen(path);
    expect(asked).toHaveLength(2);
    expect(asked[1]?.headers["if-none-match"]).toBe('"f1"');
  });

  it("renews an entry whose freshness came from Expires from the 304's Expires", async () => {
    const path = "/expires";
    resources.set(path, { etag: '"x1"', body: "expires body", headers: { expires: httpDate(2) } });
    await fill(path);
    await untilStale();
    resources.set(path, {
      etag: '"x1"',
      body: "expires body",
      headers: { expires: httpDate(600), "test-header": "renewed" },
    });
    await get(path);
    const hit = await get(path);
    expect(hit.body).toBe("expires body");
    expect(hit.headers.get("test-header")).toBe("renewed");
    expect(hit.headers.get("cache-status")).toMatch(/, edge; hit; ttl=\d+$/);
    expect(seen(path)).toHaveLength(2);
  });

  it("keeps the fields that describe the stored body when a 304 says otherwise (RFC 9111 §3.2)", async () => {
    const path = "/body-fields";
    const body = "plain bytes, never gzip";
    resources.set(path, { etag: '"b1"', body, headers: { "cache-control": "max-age=2" } });
    await fill(path);
    await untilStale();
    resources.set(path, {
      etag: '"b1"',
      body,
      headers: { "cache-control": "max-age=2" },
      notModified: {
        etag: '"b1"',
        "cache-control": "max-age=300",
        "content-length": "99999",
        "content-encoding": "gzip",
        "content-range": "bytes 0-1/2",
        "content-type": "application/x-evil",
      },
    });
    for (const res of [await get(path), await get(path)]) {
      expect(res.status).toBe(200);
      expect(res.body).toBe(body);
      expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(body)));
      expect(res.headers.get("content-encoding")).toBeNull();
      expect(res.headers.get("content-range")).toBeNull();
      expect(res.headers.get("content-type")).toBe("text/plain");
      expect(res.headers.get("cache-control")).toBe("max-age=300");
    }
    expect(seen(path)).toHaveLength(2);
  });

  it("does not freshen the stored body with a 304 for another strong ETag: the new body is fetched", async () => {
    const path = "/other-etag";
    resources.set(path, {
      etag: '"e1"',
      body: "body of e1",
      headers: { "cache-control": "max-age=2" },
    });
    await fill(path);
    await untilStale();
    // A confused origin: it answers the old validator with a 304 naming another
    // representation, and a plain GET with that representation.
    resources.set(path, {
      etag: '"e1"',
      body: "body of e2",
      headers: { "cache-control": "max-age=300", etag: '"e2"' },
      notModified: { etag: '"e2"', "cache-control": "max-age=300" },
    });
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.body).toBe("body of e2");
    expect(res.headers.get("etag")).toBe('"e2"');
    const asked = seen(path);
    expect(asked).toHaveLength(3);
    expect(asked[2]?.headers["if-none-match"]).toBeUndefined();
    expect((await get(path)).body).toBe("body of e2");
  });
});

describe("Cache-Status on edge hits (RFC 9211 §2)", () => {
  it("keeps the shield's member of the fill before the edge's, on GET and HEAD hits", async () => {
    const path = "/status";
    resources.set(path, {
      etag: '"s1"',
      body: "status body",
      headers: { "cache-control": "max-age=300" },
    });
    const miss = await get(path);
    expect(miss.headers.get("cache-status")).toMatch(
      /^shield; fwd=uri-miss; fwd-status=200; stored, edge; fwd=uri-miss; fwd-status=200; stored$/,
    );
    let hit = await get(path);
    await eventually(async () => {
      hit = await get(path);
      return hit.headers.get("cache-status")?.includes("edge; hit") === true;
    }, "an edge hit");
    expect(hit.headers.get("cache-status")).toMatch(
      /^shield; fwd=uri-miss; fwd-status=200; stored, edge; hit; ttl=\d+$/,
    );
    const head = await get(path, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(head.headers.get("content-length")).toBe(String("status body".length));
    expect(head.headers.get("cache-status")).toMatch(
      /^shield; fwd=uri-miss; fwd-status=200; stored, edge; hit; ttl=\d+$/,
    );
    expect(seen(path)).toHaveLength(1);
  });

  it("never shows a member an origin forged in the edge's name, nor an unbounded list", async () => {
    const path = "/forged-status";
    const forged = [
      "edge; hit; ttl=99999",
      ...Array.from({ length: 40 }, (_, i) => `cache${i}; hit; detail="${"x".repeat(60)}"`),
    ].join(", ");
    resources.set(path, {
      etag: '"g1"',
      body: "forged",
      headers: { "cache-control": "max-age=300", "cache-status": forged },
    });
    for (const res of [await get(path), await get(path)]) {
      const status = res.headers.get("cache-status") ?? "";
      expect(status.match(/(^|, )edge;/g)).toHaveLength(1);
      expect(status).not.toContain("ttl=99999");
      expect(status).toMatch(/shield; fwd=uri-miss; fwd-status=200; stored, edge; /);
      expect(status.length).toBeLessThan(1200);
    }
  });
});

describe("stale windows and purges through both tiers", () => {
  it("stale-while-revalidate: the stale copy is served at once and the origin sees one refresh", async () => {
    const path = "/swr";
    // Stale windows apply only to a response fresh on arrival (core planStorage): two
    // seconds of freshness, then both tiers' copies are stale.
    const cc = "max-age=2, stale-while-revalidate=60";
    resources.set(path, { etag: '"w1"', body: "old", headers: { "cache-control": cc } });
    await fill(path);
    await untilStale();
    resources.set(path, { etag: '"w2"', body: "new", headers: { "cache-control": "max-age=300" } });
    // The first request after the copy went stale is answered from it at once, and
    // refreshes it behind the answer.
    const stale = await get(path);
    expect(stale.body).toBe("old");
    expect(stale.headers.get("cache-status")).toMatch(
      /^shield; fwd=uri-miss; fwd-status=200; stored, edge; hit; ttl=-\d+; detail=stale-while-revalidate$/,
    );
    // A burst meanwhile: the old copy or the new one, never an error, and no more
    // origin fetches than the one refresh.
    const burst = await Promise.all(Array.from({ length: 6 }, () => get(path)));
    for (const res of burst) {
      expect(res.status).toBe(200);
      expect(["old", "new"]).toContain(res.body);
    }
    // The edge's own copy is renewed after it answered (waitUntil): poll for the hit.
    let hit = await get(path);
    await eventually(async () => {
      hit = await get(path);
      return /edge; hit; ttl=\d+$/.test(hit.headers.get("cache-status") ?? "");
    }, "the edge serves the refreshed copy as a fresh hit");
    expect(hit.body).toBe("new");
    // The fill, then one refresh: the shield's background revalidation.
    expect(seen(path)).toHaveLength(2);
  });

  it("a purge at the shield reaches the edge at its next revalidation", async () => {
    const path = "/purge/item";
    resources.set(path, {
      etag: '"p1"',
      body: "before the purge",
      headers: { "cache-control": "max-age=300", "surrogate-key": "two-tier-purge" },
    });
    expect((await get(path)).body).toBe("before the purge");
    // The edge's copy is stale at once (its rule), the shield's fresh: once the edge has
    // stored its copy, each request is a 304 from the shield, and the origin is not asked.
    let revalidated = await get(path);
    await eventually(async () => {
      revalidated = await get(path);
      return revalidated.headers.get("cache-status")?.includes("edge; fwd=stale") === true;
    }, "the edge revalidates its copy");
    expect(revalidated.body).toBe("before the purge");
    expect(revalidated.headers.get("cache-status")).toMatch(
      /^shield; hit; ttl=\d+, edge; fwd=stale; fwd-status=304; stored$/,
    );
    expect(seen(path)).toHaveLength(1);

    resources.set(path, {
      etag: '"p2"',
      body: "after the purge",
      headers: { "cache-control": "max-age=300", "surrogate-key": "two-tier-purge" },
    });
    const purge = await fetch(`${shieldUrl}/__shield/purge`, {
      method: "POST",
      headers: { authorization: `Bearer ${PURGE_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ tags: ["two-tier-purge"] }),
    });
    expect(purge.status).toBe(200);
    const after = await get(path);
    expect(after.body).toBe("after the purge");
    expect(after.headers.get("etag")).toBe('"p2"');
    expect(seen(path)).toHaveLength(2);
  });

  // Last: it stops the shield.
  it("stale-if-error: with the shield down, the edge serves its stale copy (RFC 5861 §4)", async () => {
    const path = "/sie";
    resources.set(path, {
      etag: '"i1"',
      body: "kept for errors",
      headers: { "cache-control": "max-age=2, stale-if-error=600" },
    });
    await fill(path);
    await untilStale();
    await group.stop(shield);
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.body).toBe("kept for errors");
    expect(res.headers.get("cache-status")).toMatch(
      /^shield; fwd=uri-miss; fwd-status=200; stored, edge; fwd=stale; ttl=-\d+; detail=stale-if-error$/,
    );
    expect(seen(path)).toHaveLength(1);
    // Without a stale-if-error window the same failure is an error.
    const none = await get("/sie-none");
    expect(none.status).toBeGreaterThanOrEqual(502);
  });
});
