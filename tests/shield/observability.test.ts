/**
 * What an operator sees: Cache-Status on every response (RFC 9211), /__shield/health,
 * /__shield/metrics in Prometheus text, and one structured log line per request.
 */
import { createServer, get as httpGet, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { createShield } from "../../origin-shield/app.ts";
import { startOrigin } from "../helpers/origin.ts";
import { CLOCK_START } from "../helpers/shield.ts";
import { fill, harness, sequence, until } from "./support.ts";

const h = harness();

/** The value of one sample in Prometheus text, labels in any order; undefined if absent. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      have[l[1] as string] = l[2] as string;
    }
    const want = Object.entries(labels);
    if (want.length !== Object.keys(have).length) continue;
    if (want.every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe("Cache-Status on every response (RFC 9211)", () => {
  const cases: {
    name: string;
    headers: Record<string, string>;
    body?: string;
    overrides?: Parameters<typeof h.start>[1];
    status: string;
  }[] = [
    {
      name: "stored",
      headers: { "cache-control": "max-age=60" },
      status: "shield; fwd=uri-miss; fwd-status=200; stored",
    },
    {
      name: "private",
      headers: { "cache-control": "private, max-age=60" },
      status: "shield; fwd=uri-miss; fwd-status=200; detail=private",
    },
    {
      name: "no-store",
      headers: { "cache-control": "no-store" },
      status: "shield; fwd=uri-miss; fwd-status=200; detail=no-store",
    },
    {
      name: "Set-Cookie",
      headers: { "cache-control": "max-age=60", "set-cookie": "s=1" },
      status: "shield; fwd=uri-miss; fwd-status=200; detail=set-cookie",
    },
    {
      name: "over shield.memory.maxObjectBytes",
      headers: { "cache-control": "max-age=60", "content-length": "2048" },
      body: "z".repeat(2048),
      overrides: { shield: { memory: { maxObjectBytes: 1024 } } },
      status: "shield; fwd=uri-miss; fwd-status=200; detail=too-large",
    },
  ];

  it.each(cases)("a miss says whether it was stored and why not: $name", async (c) => {
    const { t } = await h.start(sequence({ headers: c.headers, body: c.body ?? "b" }), c.overrides);
    const { res, body } = await fill(t, "/s");
    expect(body).toBe(c.body ?? "b");
    expect(res.headers.get("cache-status")).toBe(c.status);
  });

  it("appends its member after the Cache-Status of caches behind it (RFC 9211 §2)", async () => {
    const { t } = await h.start(
      sequence({
        headers: { "cache-control": "max-age=60", "cache-status": "app; hit" },
        body: "b",
      }),
    );
    const miss = await fill(t, "/u");
    expect(miss.res.headers.get("cache-status")).toBe(
      "app; hit, shield; fwd=uri-miss; fwd-status=200; stored",
    );
    const hit = await t.request("/u");
    expect(hit.headers.get("cache-status")).toBe("app; hit, shield; hit; ttl=60");
  });

  it("is on errors and rejections too", async () => {
    const { origin, t } = await h.start();
    await origin.close();
    const down = await t.request("/x");
    expect(down.headers.get("cache-status")).toBe("shield; fwd=uri-miss; detail=origin-connect");
  });
});

describe("/__shield/health", () => {
  it("reports status, name, origins, memory use and in-flight fetches as JSON", async () => {
    const { t } = await h.start(undefined, { shield: { name: "shield-7" } });
    await fill(t, "/a");
    const res = await t.request("/__shield/health");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { memory: { bytes: number } };
    expect(body).toMatchObject({
      status: "ok",
      name: "shield-7",
      origins: ["test"],
      memory: { entries: 1, maxBytes: 256 * 1024 * 1024 },
      inFlight: 0,
    });
    expect(body.memory.bytes).toBeGreaterThan(0);
  });

  it("is served over a real socket and is never proxied", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    const res = await fetch(`${base}/__shield/health`);
    expect(await res.json()).toMatchObject({ status: "ok" });
    const unknown = await fetch(`${base}/__shield/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "not_found" });
    expect(origin.count()).toBe(0);
  });
});

describe("/__shield/metrics (Prometheus text)", () => {
  it("counts requests by outcome, origin requests, collapsed followers, bytes, tier size and origin latency", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { origin, t } = await h.start(async (req, res) => {
      if (req.url === "/slow") await gate;
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": "10" });
      res.end("0123456789");
    });
    const base = await t.listen();
    const get = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${base}${path}`, init);
      await res.arrayBuffer();
      await t.shield.drain();
      return res;
    };
    await get("/a"); // miss
    await get("/a"); // hit
    await get("/a"); // hit
    await get("/p", { method: "POST", body: "x" }); // pass
    // Rejected 421, sent with node:http: fetch retries a 421 once on a new connection.
    await new Promise<void>((resolve) => {
      httpGet(`${base}/x`, { headers: { host: "nobody.example" } }, (r) => {
        expect(r.statusCode).toBe(421);
        r.resume().on("end", resolve);
      });
    });
    const leader = fetch(`${base}/slow`).then((r) => r.text());
    await until(() => origin.count() === 3, "the leader at the origin");
    const follower = fetch(`${base}/slow`).then((r) => r.text());
    const flight = () => [...t.shield.context.collapser.flights.values()][0];
    await until(() => flight()?.followers === 1, "the follower to join");
    await new Promise((r) => setTimeout(r, 30)); // a latency the histogram can tell apart
    release();
    expect(await Promise.all([leader, follower])).toEqual(["0123456789", "0123456789"]);
    await t.shield.drain();

    const res = await fetch(`${base}/__shield/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    const outcome = (o: string) => sample(text, "shield_requests_total", { outcome: o });
    expect(outcome("miss")).toBe(2);
    expect(outcome("hit")).toBe(2);
    expect(outcome("pass")).toBe(1);
    expect(outcome("rejected")).toBe(1);
    expect(outcome("collapsed")).toBe(1);
    expect(outcome("admin")).toBe(1); // this very request
    expect(outcome("error") ?? 0).toBe(0);
    expect(sample(text, "shield_collapsed_followers_total")).toBe(1);
    expect(sample(text, "shield_origin_requests_total", { origin: "test", kind: "fill" })).toBe(2);
    expect(sample(text, "shield_origin_requests_total", { origin: "test", kind: "pass" })).toBe(1);
    expect(origin.count()).toBe(3);
    // Body bytes: 3 × /a, the POST's 10, 2 × /slow, and the 421's JSON.
    const served = sample(text, "shield_bytes_served_total") ?? 0;
    expect(served).toBeGreaterThan(60);
    expect(served).toBeLessThan(60 + 200);

    const health = (await (await fetch(`${base}/__shield/health`)).json()) as {
      memory: { bytes: number; entries: number };
    };
    expect(sample(text, "shield_tier_entries", { tier: "memory" })).toBe(health.memory.entries);
    expect(health.memory.entries).toBe(2);
    expect(sample(text, "shield_tier_bytes", { tier: "memory" })).toBe(health.memory.bytes);
    expect(sample(text, "shield_tier_evictions_total", { tier: "memory" }) ?? 0).toBe(0);

    expect(sample(text, "shield_origin_latency_seconds_count", { origin: "test" })).toBe(2);
    expect(
      sample(text, "shield_origin_latency_seconds_bucket", { origin: "test", le: "+Inf" }),
    ).toBe(2);
    expect(text).toMatch(/^# TYPE shield_origin_latency_seconds histogram$/m);
    // The slow fill waited ≥ 30 ms for its headers.
    expect(
      sample(text, "shield_origin_latency_seconds_bucket", { origin: "test", le: "0.025" }),
    ).toBeLessThan(2);
  });

  it("counts stale, stale_error, revalidated and error outcomes", async () => {
    const { origin, t } = await h.start(
      sequence({
        headers: {
          "cache-control": "max-age=10, stale-while-revalidate=10, stale-if-error=100",
          etag: '"m"',
        },
        body: "m",
      }),
    );
    await fill(t, "/m"); // miss
    t.advance(15_000);
    await fill(t, "/m"); // stale (swr), background revalidation 200
    t.advance(25_000);
    await fill(t, "/m"); // revalidated (foreground)
    origin.handle((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    t.advance(25_000);
    await fill(t, "/m"); // stale_error
    await origin.close();
    await fill(t, "/other"); // error
    const text = await (await t.request("/__shield/metrics")).text();
    const outcome = (o: string) => sample(text, "shield_requests_total", { outcome: o });
    expect([outcome("miss"), outcome("stale"), outcome("revalidated")]).toEqual([1, 1, 1]);
    expect([outcome("stale_error"), outcome("error")]).toEqual([1, 1]);
    expect(
      sample(text, "shield_origin_requests_total", { origin: "test", kind: "revalidate" }),
    ).toBe(3);
    expect(sample(text, "shield_origin_errors_total", { kind: "connect" })).toBe(1);
  });

  it("counts evictions when the memory budget is exceeded (shield.memory.maxBytes)", async () => {
    const body = "e".repeat(1500);
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=600" }, body }),
      { shield: { memory: { maxBytes: 8000, maxObjectBytes: 2000 } } },
    );
    for (let i = 0; i < 6; i++) expect((await fill(t, `/e${i}`)).body).toBe(body);
    const text = await (await t.request("/__shield/metrics")).text();
    const entries = sample(text, "shield_tier_entries", { tier: "memory" }) ?? 0;
    const bytes = sample(text, "shield_tier_bytes", { tier: "memory" }) ?? 0;
    expect(entries).toBeGreaterThan(0);
    expect(entries).toBeLessThan(6);
    expect(sample(text, "shield_tier_evictions_total", { tier: "memory" })).toBe(6 - entries);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(8000);
    // The least recently used went first: /e0 is fetched again, /e5 is a hit.
    expect((await fill(t, "/e5")).res.headers.get("cache-status")).toMatch(/^shield; hit/);
    expect((await fill(t, "/e0")).res.headers.get("cache-status")).toMatch(/^shield; fwd=uri-miss/);
    expect(origin.count()).toBe(7);
  });

  it("an entry larger than the whole budget is not stored and the tier's byte count stays true", async () => {
    // maxObjectBytes = maxBytes: a 3000-byte body plus its bookkeeping exceeds the budget.
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=600" }, body: "q".repeat(3000) }),
      { shield: { memory: { maxBytes: 4000, maxObjectBytes: 4000 } } },
    );
    await fill(t, "/small-budget");
    await fill(t, "/small-budget");
    const health = (await (await t.request("/__shield/health")).json()) as {
      memory: { bytes: number; entries: number };
    };
    expect(health.memory).toMatchObject({ bytes: 0, entries: 0 });
    expect(origin.count()).toBe(2);
  });
});

describe("structured logs (pino)", () => {
  it("are silent by default in tests", async () => {
    const { t } = await h.start();
    expect(t.shield.context.log.level).toBe("silent");
  });

  it("write one JSON line per request at info with method, url, status, outcome and bytes", async () => {
    const origin = await startOrigin();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(
          ...chunk
            .toString()
            .split("\n")
            .filter((l) => l !== ""),
        );
        done();
      },
    });
    const shield = createShield({
      config: parseConfig({ origins: [{ name: "o", url: origin.url, hosts: ["127.0.0.1"] }] }),
      now: () => CLOCK_START,
      logger: pino({ level: "info" }, sink),
    });
    const server: Server = createServer(shield.listener);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await (await fetch(`${base}/one`)).text();
      await shield.drain();
      await (await fetch(`${base}/one`)).text();
      // Lines are written in batches, at most 100 ms after the first.
      await vi.waitFor(() => expect(lines).toHaveLength(2), { timeout: 2_000 });
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records).toHaveLength(2);
      expect(records[0]).toMatchObject({
        level: 30,
        method: "GET",
        url: "/one",
        status: 200,
        outcome: "miss",
        bytes: 2,
        complete: true,
      });
      expect(records[1]).toMatchObject({ url: "/one", outcome: "hit", bytes: 2 });
      expect(typeof records[1]?.ms).toBe("number");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await shield.close();
      await origin.close();
    }
  });
});
