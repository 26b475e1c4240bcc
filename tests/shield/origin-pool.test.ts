/**
 * Origin pools over real sockets (origins[].servers): a server killed under load costs
 * clients nothing and its share moves to the others; it is ejected, shown so in
 * /__shield/health and metrics, and comes back after recovery through the active checks
 * and the breaker's half-open probe; weights hold; retries stay within their budget and
 * never repeat a non-idempotent request; with every server down the cache serves stale
 * where allowed and otherwise answers 503 with Retry-After at once.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { RETRY_FLOOR } from "../../origin-shield/origin/retry-budget.ts";
import {
  type Answer,
  deadUrl,
  missLoad,
  poolHarness,
  poolHealth,
  serverState,
  sleep,
  until,
} from "./origin-pool-support.ts";

const h = poolHarness();

/** The value of one sample in a Prometheus text exposition. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? Number.NaN : Number(line.split(" ").pop());
}

describe("one of three servers killed mid-load", () => {
  it("costs no client an error, moves its share to the others, shows it ejected, and takes it back once it recovers", async () => {
    const [a, b, c] = await h.servers("a", "b", "c");
    if (a === undefined || b === undefined || c === undefined) throw new Error("no servers");
    const t = h.shield([a.url, b.url, c.url], {
      health: { path: "/healthz", intervalMs: 300, timeoutMs: 250, unhealthyAfter: 2 },
      // Ejections long enough that only the active checks can end this one early.
      breaker: { failures: 3, ejectMs: 60_000, maxEjectMs: 60_000 },
    });
    const answers: Answer[] = [];
    let killedAfter = Number.POSITIVE_INFINITY;
    const load = missLoad(t, 12, "kill", answers, () => answers.length >= killedAfter + 400);
    await until(async () => answers.length >= 200, "the first answers");
    killedAfter = answers.length;
    await c.kill();
    await load;

    expect(answers.filter((x) => x.status !== 200)).toEqual([]);
    const share = (list: typeof answers, name: string) =>
      list.filter((x) => x.servedBy === name).length / list.length;
    const before = answers.slice(0, killedAfter);
    // Once the first failures have been seen (its connections reset, connects refused).
    const after = answers.slice(killedAfter + 100);
    expect(before.length).toBeGreaterThanOrEqual(200);
    // Least outstanding requests: a server slowed for a moment (this machine is shared)
    // takes less for that moment, so shares are loose; c's goes to the others entirely.
    for (const name of ["a", "b", "c"]) expect(share(before, name)).toBeGreaterThan(0.03);
    expect(share(after, "c")).toBe(0);
    for (const name of ["a", "b"]) expect(share(after, name)).toBeGreaterThan(0.2);

    let pool = await poolHealth(t);
    const dead = serverState(pool, c.url);
    expect(dead).toMatchObject({ breaker: "open", ejections: 1 });
    expect(["ejected", "unhealthy"]).toContain(dead.state);
    expect(dead.failures).toBeGreaterThanOrEqual(3);
    expect(pool.up).toBe(2);
    expect(serverState(pool, a.url).state).toBe("up");
    const metrics = await (await t.request("/__shield/metrics")).text();
    expect(sample(metrics, "shield_origin_server_up", `origin="pool",server="${c.url}"`)).toBe(0);
    expect(sample(metrics, "shield_origin_server_up", `origin="pool",server="${a.url}"`)).toBe(1);
    expect(
      sample(metrics, "shield_origin_server_ejections_total", `origin="pool",server="${c.url}"`),
    ).toBe(1);

    // The active checks see it die, then come back; then one real request probes it.
    await until(async () => serverState(await poolHealth(t), c.url).state === "unhealthy", "out");
    await c.revive();
    await until(async () => serverState(await poolHealth(t), c.url).check === "healthy", "back");
    expect(serverState(await poolHealth(t), c.url).breaker).toBe("half-open");
    const probe = await t.request("/after/probe");
    expect(probe.headers.get("x-served-by")).toBe("c");
    pool = await poolHealth(t);
    expect(serverState(pool, c.url)).toMatchObject({ state: "up", breaker: "closed" });
    expect(pool.up).toBe(3);
    const again = await Promise.all(Array.from({ length: 30 }, (_, i) => t.request(`/after/${i}`)));
    expect(again.filter((r) => r.headers.get("x-served-by") === "c").length).toBeGreaterThan(5);
  });

  it("without active checks, the breaker's half-open probe takes it back after ejectMs", async () => {
    const [a, b] = await h.servers("a", "b");
    if (a === undefined || b === undefined) throw new Error("no servers");
    const t = h.shield([a.url, b.url], {}, {});
    await b.kill();
    for (let i = 0; i < 12; i++) {
      const res = await t.request(`/one/${i}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-served-by")).toBe("a");
    }
    const dead = serverState(await poolHealth(t), b.url);
    expect(dead).toMatchObject({ state: "ejected", check: "off", failures: 5 });
    expect(dead.ejectedForMs).toBeGreaterThan(1_000);
    await b.revive();
    await sleep(dead.ejectedForMs + 50);
    expect(serverState(await poolHealth(t), b.url).state).toBe("half-open");
    const probe = await t.request("/two/probe");
    expect(probe.headers.get("x-served-by")).toBe("b");
    expect(serverState(await poolHealth(t), b.url).state).toBe("up");
  });
});

describe("balancing", () => {
  it("honours weights, one request at a time and many at once", async () => {
    const [a, b] = await h.servers("a", "b");
    if (a === undefined || b === undefined) throw new Error("no servers");
    const t = h.shield([a.url, { url: b.url, weight: 3 }]);
    // One at a time: each fill ends (its connection settled) before the next request.
    for (let i = 0; i < 40; i++) {
      await t.request(`/seq/${i}`);
      await t.shield.drain();
    }
    expect([a.seen.length, b.seen.length]).toEqual([10, 30]);
    await Promise.all(Array.from({ length: 400 }, (_, i) => t.request(`/par/${i}`)));
    const share = (b.seen.length - 30) / 400;
    expect(share).toBeGreaterThan(0.65);
    expect(share).toBeLessThan(0.85);
  });

  it("each server gets its own Host; X-Forwarded-Host stays the client's", async () => {
    const [a, b] = await h.servers("a", "b");
    if (a === undefined || b === undefined) throw new Error("no servers");
    const t = h.shield([a.url, b.url]);
    await t.request("/h1");
    await t.request("/h2");
    expect(a.hosts).toEqual([`${new URL(a.url).host} example.com`]);
    expect(b.hosts).toEqual([`${new URL(b.url).host} example.com`]);
  });
});

describe("retries", () => {
  it("a GET refused by one server is retried on another, within the budget (at most 10 + 10 % of requests)", async () => {
    const [live] = await h.servers("live");
    if (live === undefined) throw new Error("no server");
    const dead = await deadUrl();
    const t = h.shield([dead, live.url], { breaker: { failures: 0 } });
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      statuses.push((await t.request(`/budget/${i}`)).status);
      await t.shield.drain();
    }
    const pool = await poolHealth(t);
    const failed = statuses.filter((s) => s === 502).length;
    // Every other first attempt went to the dead server: 50 failures, some retried.
    expect(pool.retries + pool.retriesRefused).toBe(50);
    expect(pool.retries).toBeGreaterThanOrEqual(RETRY_FLOOR);
    expect(pool.retries).toBeLessThanOrEqual(RETRY_FLOOR + 0.1 * 100);
    expect(failed).toBe(pool.retriesRefused);
    expect(live.seen.length).toBe(50 + pool.retries);
    const metrics = await (await t.request("/__shield/metrics")).text();
    expect(sample(metrics, "shield_origin_retries_total", 'origin="pool",result="sent"')).toBe(
      pool.retries,
    );
  });

  it("never retries a non-idempotent request", async () => {
    const [live] = await h.servers("live");
    if (live === undefined) throw new Error("no server");
    const t = h.shield([await deadUrl(), live.url], { breaker: { failures: 0 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await t.request(`/post/${i}`, { method: "POST", body: `body ${i}` });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 502)).toHaveLength(3);
    expect(live.seen.filter((r) => r.startsWith("POST"))).toHaveLength(3);
    expect((await poolHealth(t)).retries).toBe(0);
  });
});

describe("every server down", () => {
  it("serves stale where stale-if-error allows, else 503 origin_down with Retry-After at once", async () => {
    const [a, b] = await h.servers("a", "b");
    if (a === undefined || b === undefined) throw new Error("no servers");
    const t = h.shield(
      [a.url, b.url],
      { breaker: { failures: 1, ejectMs: 30_000, maxEjectMs: 60_000 } },
      { cache: { defaultStaleIfError: 600 } },
    );
    expect(await (await t.request("/kept")).text()).toMatch(/^[ab]$/);
    await t.shield.drain();
    await Promise.all([a.kill(), b.kill()]);
    t.advance(120_000);
    // The first miss finds both dead (and retried once): each is ejected.
    const first = await t.request("/kept");
    expect(await first.text()).toMatch(/^[ab]$/);
    expect(first.headers.get("cache-status")).toMatch(/detail=stale-if-error/);
    expect((await poolHealth(t)).up).toBe(0);

    const stale = await t.request("/kept");
    expect(stale.status).toBe(200);
    expect(stale.headers.get("cache-status")).toMatch(/detail=stale-if-error/);
    const started = performance.now();
    const down = await t.request("/never-cached");
    expect(performance.now() - started).toBeLessThan(100);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: "origin_down" });
    expect(Number(down.headers.get("retry-after"))).toBeGreaterThanOrEqual(29);
    expect(down.headers.get("cache-status")).toBe("shield; fwd=uri-miss; detail=origin-down");
    const metrics = await (await t.request("/__shield/metrics")).text();
    expect(sample(metrics, "shield_origin_down_total", 'origin="pool"')).toBe(2);
  });

  it("a black-holed origin costs one header timeout, then answers 503 at once", async () => {
    const sockets = new Set<import("node:net").Socket>();
    const hole: Server = createServer(() => {}); // accepts, never answers
    hole.on("connection", (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(hole.address() as AddressInfo).port}`;
    try {
      const t = h.shield(
        [url],
        { breaker: { failures: 1 } },
        { shield: { origin: { headersTimeoutMs: 300 } } },
      );
      const first = await t.request("/slow");
      expect(first.status).toBe(504);
      const started = performance.now();
      const [second, third] = await Promise.all([t.request("/slow"), t.request("/other")]);
      expect(performance.now() - started).toBeLessThan(100);
      expect([second.status, third.status]).toEqual([503, 503]);
      expect(second.headers.get("retry-after")).toBe("2");
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => hole.close(() => resolve()));
    }
  });
});
