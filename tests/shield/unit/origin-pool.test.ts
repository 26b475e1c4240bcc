/**
 * The origin pool's parts without sockets: the breaker, the retry budget, the choice of
 * server, active-check bookkeeping, and the pool's retry and all-down rules over a
 * scripted origin client, every clock the test's. The same over real sockets is in
 * tests/shield/origin-pool.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../core/config/index.ts";
import { PoolServer, panicking, pickServer } from "../../../origin-shield/origin/balance.ts";
import { Breaker } from "../../../origin-shield/origin/breaker.ts";
import type {
  OriginClient,
  OriginRequest,
  OriginResponse,
} from "../../../origin-shield/origin/client.ts";
import { ActiveHealth } from "../../../origin-shield/origin/health.ts";
import { OriginDown, OriginError } from "../../../origin-shield/origin/origin-error.ts";
import { OriginPools } from "../../../origin-shield/origin/pool.ts";
import { RETRY_FLOOR, RetryBudget } from "../../../origin-shield/origin/retry-budget.ts";

const BREAKER = { failures: 3, ejectMs: 1_000, maxEjectMs: 8_000 };

describe("breaker", () => {
  it("ejects after `failures` in a row; an answer in between starts the count again", () => {
    const breaker = new Breaker(BREAKER);
    expect(breaker.failed(0, false)).toBe(false);
    expect(breaker.failed(0, false)).toBe(false);
    breaker.succeeded(0, false);
    expect(breaker.failed(0, false)).toBe(false);
    expect(breaker.failed(0, false)).toBe(false);
    expect(breaker.admits(0)).toBe("yes");
    expect(breaker.failed(0, false)).toBe(true);
    expect(breaker.admits(0)).toBe("no");
    expect(breaker.waitMs(0)).toBe(1_000);
  });

  it("half-open after the backoff lets exactly one probe through; its answer closes the breaker", () => {
    const breaker = new Breaker({ ...BREAKER, failures: 1 });
    breaker.failed(0, false);
    expect(breaker.state(999)).toBe("open");
    expect(breaker.admits(1_000)).toBe("probe");
    breaker.beginProbe();
    expect(breaker.admits(1_000)).toBe("no");
    breaker.succeeded(1_200, true);
    expect(breaker.state(1_200)).toBe("closed");
    expect(breaker.admits(1_200)).toBe("yes");
  });

  it("backs off exponentially while probes fail, up to maxEjectMs", () => {
    const breaker = new Breaker({ ...BREAKER, failures: 1 });
    let now = 0;
    breaker.failed(now, false);
    const waits: number[] = [];
    for (let round = 0; round < 5; round++) {
      const wait = breaker.waitMs(now);
      waits.push(wait);
      now += wait;
      expect(breaker.admits(now)).toBe("probe");
      breaker.beginProbe();
      expect(breaker.failed(now, true)).toBe(true);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    expect(breaker.ejections).toBe(6);
  });

  it("a server closed for longer than maxEjectMs starts its backoff over", () => {
    const breaker = new Breaker({ ...BREAKER, failures: 1 });
    breaker.failed(0, false);
    breaker.beginProbe();
    breaker.failed(1_000, true); // 2 s
    breaker.beginProbe();
    breaker.succeeded(3_000, true);
    breaker.failed(4_000, false); // soon after: 4 s
    expect(breaker.waitMs(4_000)).toBe(4_000);
    breaker.beginProbe();
    breaker.succeeded(8_000, true);
    breaker.failed(8_000 + 8_001, false); // long after: from the start
    expect(breaker.waitMs(16_001)).toBe(1_000);
  });

  it("an abandoned probe frees the slot; hurry ends an ejection; failures 0 never ejects", () => {
    const breaker = new Breaker({ ...BREAKER, failures: 1 });
    breaker.failed(0, false);
    breaker.hurry(10);
    expect(breaker.admits(10)).toBe("probe");
    breaker.beginProbe();
    breaker.probeAbandoned();
    expect(breaker.admits(10)).toBe("probe");
    const never = new Breaker({ ...BREAKER, failures: 0 });
    for (let i = 0; i < 100; i++) expect(never.failed(i, false)).toBe(false);
    expect(never.admits(100)).toBe("yes");
  });
});

describe("retry budget", () => {
  it("allows the floor at no traffic, then a tenth of the requests in the window", () => {
    const budget = new RetryBudget(0.1);
    let allowed = 0;
    for (let i = 0; i < 10; i++) if (budget.tryRetry(500)) allowed++;
    expect(allowed).toBe(RETRY_FLOOR);
    for (let i = 0; i < 100; i++) budget.request(600);
    for (let i = 0; i < 50; i++) if (budget.tryRetry(700)) allowed++;
    expect(allowed).toBe(RETRY_FLOOR + 10);
  });

  it("forgets what left the 10 s window", () => {
    const budget = new RetryBudget(0.1);
    for (let i = 0; i < 100; i++) budget.request(0);
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (budget.tryRetry(100)) allowed++;
    expect(allowed).toBe(RETRY_FLOOR + 10);
    expect(budget.tryRetry(9_999)).toBe(false);
    // Eleven seconds on, requests and retries of then are gone: the floor again.
    expect(budget.tryRetry(11_000)).toBe(true);
  });

  it("a ratio of 0 never retries", () => {
    const budget = new RetryBudget(0);
    budget.request(0);
    expect(budget.tryRetry(0)).toBe(false);
  });
});

const servers = (...weights: number[]) =>
  weights.map((weight, i) => new PoolServer(`http://s${i}`, weight, BREAKER));

describe("choosing a server", () => {
  it("honours weights when every server is idle (round-robin), and in order", () => {
    const pool = servers(1, 3);
    const picks = Array.from({ length: 8 }, () => pickServer(pool, 0, null, "prefer")?.server.url);
    expect(picks.filter((url) => url === "http://s1")).toHaveLength(6);
    // Smooth: the light server is not starved for three picks in a row at the start.
    expect(picks.slice(0, 4)).toContain("http://s0");
  });

  it("takes the fewest outstanding requests per weight", () => {
    const pool = servers(1, 2, 1);
    const [first, second, third] = pool as [PoolServer, PoolServer, PoolServer];
    first.outstanding = 2;
    second.outstanding = 3; // 1.5 per weight
    third.outstanding = 1;
    expect(pickServer(pool, 0, null, "prefer")?.server).toBe(third);
    third.outstanding = 2;
    expect(pickServer(pool, 0, null, "prefer")?.server).toBe(second);
    expect(pickServer(pool, 0, second, "prefer")?.server).not.toBe(second);
  });

  it("skips unhealthy and ejected servers; a half-open one takes a probe as the policy says", () => {
    const pool = servers(1, 1, 1);
    const [first, second, third] = pool as [PoolServer, PoolServer, PoolServer];
    first.healthy = false;
    for (let i = 0; i < 3; i++) second.breaker.failed(0, false);
    expect(pickServer(pool, 0, null, "prefer")?.server).toBe(third);
    // second's backoff is over: half-open.
    expect(pickServer(pool, 1_000, null, "fallback")).toEqual({ server: third, probe: false });
    expect(pickServer(pool, 1_000, null, "never")?.server).toBe(third);
    expect(pickServer(pool, 1_000, null, "prefer")).toEqual({ server: second, probe: true });
    // Its probe is out: nobody else probes it; third is all there is.
    expect(pickServer(pool, 1_000, null, "prefer")?.server).toBe(third);
    expect(panicking(pool, 1_000)).toBe(false);
    // Without third, no server passing its checks is left: they are ignored.
    expect(pickServer(pool, 1_000, third, "prefer")?.server).toBe(first);
    for (let i = 0; i < 3; i++) first.breaker.failed(1_000, false);
    expect(pickServer(pool, 1_000, third, "prefer")).toBeNull();
  });

  it("with every server failing its checks, the breakers alone decide (panic)", () => {
    const pool = servers(1, 1);
    for (const server of pool) server.healthy = false;
    expect(panicking(pool, 0)).toBe(true);
    const picks = [0, 1, 2, 3].map(() => pickServer(pool, 0, null, "prefer")?.server.url);
    expect(picks).toEqual(["http://s0", "http://s1", "http://s0", "http://s1"]);
    for (const server of pool) for (let i = 0; i < 3; i++) server.breaker.failed(0, false);
    expect(pickServer(pool, 0, null, "prefer")).toBeNull();
    expect(panicking(pool, 0)).toBe(false);
  });
});

describe("active checks", () => {
  it("take a server out after unhealthyAfter failures, bring it back after healthyAfter passes and end its ejection", () => {
    const [server] = servers(1) as [PoolServer];
    const changes: string[] = [];
    const health = new ActiveHealth(
      [server],
      { path: "/h", intervalMs: 100, timeoutMs: 50, unhealthyAfter: 2, healthyAfter: 2 },
      {
        probe: async () => true,
        clock: () => 500,
        random: () => 0.5,
        changed: (_server, healthy) => changes.push(healthy ? "in" : "out"),
      },
    );
    for (let i = 0; i < 3; i++) server.breaker.failed(0, false);
    health.record(server, false);
    expect(server.healthy).toBe(true);
    health.record(server, false);
    expect(server.healthy).toBe(false);
    health.record(server, true);
    health.record(server, false);
    health.record(server, true);
    expect(server.healthy).toBe(false);
    health.record(server, true);
    expect(server.healthy).toBe(true);
    expect(changes).toEqual(["out", "in"]);
    // The 1 s ejection was cut short at the clock's 500 ms: the next request probes.
    expect(server.breaker.admits(500)).toBe("probe");
    expect([server.checksPassed, server.checksFailed]).toEqual([3, 3]);
  });
});

/** A scripted origin client: each server URL answers or fails as `behaviour` says. */
function scriptedClient(behaviour: (server: string) => "ok" | OriginError) {
  const sent: { server: string; method: string }[] = [];
  const client = {
    async request(req: OriginRequest): Promise<OriginResponse> {
      const server = new URL(req.url).origin;
      sent.push({ server, method: req.method });
      const outcome = behaviour(server);
      if (outcome !== "ok") throw outcome;
      req.settled?.();
      return { status: 200, headers: [], body: (async function* () {})(), dispose() {} };
    },
  };
  return { client: client as unknown as OriginClient, sent };
}

const refused = () => new OriginError("connect", "refused", { cause: { code: "ECONNREFUSED" } });

function pools(client: OriginClient, breaker = BREAKER, budget = 0.1) {
  const config = parseConfig({
    origins: [
      { name: "o", servers: ["http://dead:1", "http://live:2"], hosts: ["a.example"], breaker },
    ],
  });
  let now = 0;
  const made = new OriginPools(config.origins, client, {
    retryBudget: budget,
    userAgent: "test",
    clock: () => now,
  });
  return {
    origin: config.origins[0]!,
    pools: made,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const TARGET = { path: "/x", query: "" };

describe("the pool's retries", () => {
  it("a GET refused by one server is sent once more, to another", async () => {
    const { client, sent } = scriptedClient((s) => (s === "http://dead:1" ? refused() : "ok"));
    const { origin, pools: pool } = pools(client);
    const res = await pool.request(origin, TARGET, { method: "GET", headers: [] });
    expect(res.status).toBe(200);
    expect(sent.map((r) => r.server)).toEqual(["http://dead:1", "http://live:2"]);
    expect(pool.stats()[0]).toMatchObject({ retries: 1, retriesRefused: 0 });
  });

  it("a POST is never retried; nor a GET with a body, nor after a header timeout", async () => {
    const timeout = new OriginError("timeout", "slow", {
      cause: { code: "UND_ERR_HEADERS_TIMEOUT" },
    });
    let failure: OriginError = refused();
    const { client, sent } = scriptedClient((s) => (s === "http://dead:1" ? failure : "ok"));
    const { origin, pools: pool } = pools(client);
    const body = (async function* () {})();
    await expect(pool.request(origin, TARGET, { method: "POST", headers: [] })).rejects.toBe(
      failure,
    );
    sent.length = 0;
    await pool.request(origin, TARGET, { method: "GET", headers: [] }); // to live:2, by turns
    await expect(pool.request(origin, TARGET, { method: "GET", headers: [], body })).rejects.toBe(
      failure,
    );
    failure = timeout;
    await pool.request(origin, TARGET, { method: "GET", headers: [] });
    await expect(pool.request(origin, TARGET, { method: "GET", headers: [] })).rejects.toBe(
      timeout,
    );
    expect(sent.map((r) => r.server)).toEqual([
      "http://live:2",
      "http://dead:1",
      "http://live:2",
      "http://dead:1",
    ]);
    expect(pool.stats()[0]?.retries).toBe(0);
  });

  it("retries stay within the budget: the floor plus a tenth of the requests", async () => {
    const { client } = scriptedClient((s) => (s === "http://dead:1" ? refused() : "ok"));
    const { origin, pools: pool } = pools(client, { ...BREAKER, failures: 0 });
    let failed = 0;
    for (let i = 0; i < 200; i++) {
      await pool.request(origin, TARGET, { method: "GET", headers: [] }).catch(() => failed++);
    }
    const stats = pool.stats()[0]!;
    // 100 first attempts failed; the budget had grown to 3 + 0.1 × ~200 by the last.
    expect(stats.retries).toBeLessThanOrEqual(RETRY_FLOOR + 20);
    expect(stats.retries).toBeGreaterThanOrEqual(RETRY_FLOOR + 19);
    expect(stats.retriesRefused).toBe(100 - stats.retries);
    expect(failed).toBe(stats.retriesRefused);
  });

  it("with every server ejected: OriginDown at once, Retry-After from the nearest return", async () => {
    const { client, sent } = scriptedClient(() => refused());
    const { origin, pools: pool, advance } = pools(client, { ...BREAKER, failures: 1 });
    await expect(pool.request(origin, TARGET, { method: "GET", headers: [] })).rejects.toThrow(
      "refused",
    );
    expect(sent).toHaveLength(2);
    advance(300);
    const down = await pool.request(origin, TARGET, { method: "GET", headers: [] }).catch((e) => e);
    expect(down).toBeInstanceOf(OriginDown);
    expect((down as OriginDown).status).toBe(503);
    expect((down as OriginDown).retryAfter).toBe(1);
    expect(sent).toHaveLength(2);
    expect(pool.stats()[0]).toMatchObject({ up: 0, down: 1 });
    expect(pool.stats()[0]?.servers.map((s) => s.state)).toEqual(["ejected", "ejected"]);
  });
});
