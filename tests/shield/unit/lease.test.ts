/**
 * Cross-node leases against a real redis-server of its own, three links standing for
 * three shield nodes: one winner among concurrent acquirers, fencing tokens, expiry, and
 * the announcement that wakes waiters on other nodes.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { Leases } from "../../../origin-shield/cluster/lease.ts";
import { RedisLink } from "../../../origin-shield/cluster/redis-link.ts";
import {
  describeWithRedis,
  type RedisServer,
  startRedisServer,
} from "../../helpers/redis-server.ts";

const PREFIX = "lease-test:";

describeWithRedis("Leases", () => {
  let server: RedisServer;
  const links: RedisLink[] = [];
  let keys = 0;
  /** A primary key no other case uses, long as real keys can be. */
  const fresh = () => `["GET","https","example.com","/${"x".repeat(300)}/${++keys}",""]`;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    await Promise.all(links.splice(0).map((link) => link.close()));
    if (!server.running) await server.start();
  });

  async function nodes(count: number, pollMs = 20): Promise<Leases[]> {
    const made: Leases[] = [];
    for (let at = 0; at < count; at++) {
      const link = new RedisLink({ url: server.url, timeoutMs: 200, maxBackoffMs: 50 });
      links.push(link);
      expect(await link.ready(5000)).toBe(true);
      made.push(new Leases({ link, keyPrefix: PREFIX, pollMs }));
    }
    return made;
  }

  it("of 20 concurrent acquirers on 3 nodes exactly one wins, with a fresh token", async () => {
    const leases = await nodes(3);
    const primary = fresh();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, at) => (leases[at % 3] as Leases).acquire(primary, 5000)),
    );
    const winners = results.filter((result) => result.kind === "held-by-us");
    expect(winners).toHaveLength(1);
    expect(results.filter((result) => result.kind === "held-by-other")).toHaveLength(19);
    // Another key's lease gets a later token: tokens fence across keys and time.
    const next = await (leases[1] as Leases).acquire(fresh(), 5000);
    const first = winners[0];
    if (first?.kind !== "held-by-us" || next.kind !== "held-by-us") throw new Error("no lease");
    expect(next.token).toBeGreaterThan(first.token);
  });

  it("extend and release act only with the current token", async () => {
    const [one, two] = (await nodes(2)) as [Leases, Leases];
    const primary = fresh();
    const held = await one.acquire(primary, 5000);
    if (held.kind !== "held-by-us") throw new Error("no lease");
    expect(await two.release(primary, held.token + 1)).toBe(false);
    expect(await two.extend(primary, held.token + 1, 5000)).toBe(false);
    expect((await two.acquire(primary, 5000)).kind).toBe("held-by-other");
    expect(await one.extend(primary, held.token, 5000)).toBe(true);
    expect(await one.release(primary, held.token)).toBe(true);
    expect(await one.release(primary, held.token)).toBe(false);
    expect((await two.acquire(primary, 5000)).kind).toBe("held-by-us");
  });

  it("an expired lease can be taken by another, and its old holder cannot touch the new one", async () => {
    const [one, two] = (await nodes(2)) as [Leases, Leases];
    const primary = fresh();
    const old = await one.acquire(primary, 30);
    if (old.kind !== "held-by-us") throw new Error("no lease");
    await new Promise((resolve) => setTimeout(resolve, 60));
    const taken = await two.acquire(primary, 5000);
    if (taken.kind !== "held-by-us") throw new Error("expired lease not taken");
    expect(taken.token).toBeGreaterThan(old.token);
    expect(await one.extend(primary, old.token, 5000)).toBe(false);
    expect(await one.release(primary, old.token)).toBe(false);
    expect((await one.acquire(primary, 5000)).kind).toBe("held-by-other");
  });

  it("a waiter on another node is woken by the announcement within a few ms", async () => {
    // Polling slower than the test: only the announcement can wake the waiter in time.
    const [holder, waiter] = (await nodes(2, 5000)) as [Leases, Leases];
    const primary = fresh();
    const held = await holder.acquire(primary, 5000);
    if (held.kind !== "held-by-us") throw new Error("no lease");
    const other = fresh();
    expect((await holder.acquire(other, 5000)).kind).toBe("held-by-us");
    const unrelated = waiter.waitFor(other, 300);
    const waiting = waiter.waitFor(primary, 3000);
    // Let the subscription and the first check land before announcing.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await links[1]?.ready(2000);
    const announced = performance.now();
    await holder.announce(primary);
    expect(await waiting).toBe("done");
    expect(performance.now() - announced).toBeLessThan(25);
    await holder.release(primary, held.token);
    // A waiter on another key is not woken by this key's announcement.
    expect(await unrelated).toBe("timeout");
    // A waiter that starts after the announcement still learns of it.
    expect(await waiter.waitFor(primary, 1000)).toBe("done");
    // Until the next fill takes the lease.
    const again = await holder.acquire(primary, 5000);
    expect(again.kind).toBe("held-by-us");
    expect(await waiter.waitFor(primary, 50)).toBe("timeout");
  });

  it("waitFor says expired when the holder vanishes without announcing", async () => {
    const [holder, waiter] = (await nodes(2)) as [Leases, Leases];
    const primary = fresh();
    expect((await holder.acquire(primary, 80)).kind).toBe("held-by-us");
    const started = performance.now();
    expect(await waiter.waitFor(primary, 3000)).toBe("expired");
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(60);
    expect(took).toBeLessThan(400);
  });

  it("gives up at the timeout, or when its signal aborts", async () => {
    const [holder, waiter] = (await nodes(2)) as [Leases, Leases];
    const primary = fresh();
    expect((await holder.acquire(primary, 5000)).kind).toBe("held-by-us");
    expect(await waiter.waitFor(primary, 60)).toBe("timeout");
    const controller = new AbortController();
    const waiting = waiter.waitFor(primary, 5000, controller.signal);
    setTimeout(() => controller.abort(), 30);
    expect(await waiting).toBe("timeout");
  });

  it("everything is unavailable while Redis is down, and nothing throws", async () => {
    const [leases] = (await nodes(1)) as [Leases];
    const primary = fresh();
    const held = await leases.acquire(primary, 5000);
    if (held.kind !== "held-by-us") throw new Error("no lease");
    const waiting = leases.waitFor(primary, 5000);
    await server.stop();
    expect(await waiting).toBe("unavailable");
    await waitUntil(() => links[0]?.state === "down");
    expect(await leases.acquire(primary, 5000)).toEqual({ kind: "unavailable" });
    expect(await leases.waitFor(primary, 1000)).toBe("unavailable");
    expect(await leases.extend(primary, held.token, 5000)).toBe(false);
    expect(await leases.release(primary, held.token)).toBe(false);
    expect(await leases.announce(primary)).toBe(false);
  });
});

async function waitUntil(check: () => boolean, limitMs = 5000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
