/**
 * The Redis tier against a real redis-server of its own: records and their expiry, what
 * two nodes (two links) see of each other, purge through the Redis-side indexes, and a
 * Redis that is down, restarted or slow, which must only ever cost misses.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { HeaderPairs } from "../../../core/policy/index.ts";
import { RedisLink } from "../../../origin-shield/cluster/redis-link.ts";
import type { LowerTierEvents, RecordHead } from "../../../origin-shield/store/lower-tier.ts";
import { EXPIRY_GRACE_MS, RedisTier } from "../../../origin-shield/store/redis-tier.ts";
import {
  describeWithRedis,
  type RedisServer,
  startRedisServer,
} from "../../helpers/redis-server.ts";
import { lowerTierContract } from "./lower-tier-contract.ts";
import { metaFor } from "./tier-contract.ts";

const T0 = Date.UTC(2026, 0, 1);
/** The timeout of the cases that measure it; the others get a generous one (shared CI). */
const TIMEOUT_MS = 40;
const RELAXED_MS = 1000;
const PREFIX = "test:";

function head(path: string, headers: HeaderPairs = [], derivedFrom?: string): RecordHead {
  const url = `http://example.com${path}`;
  return {
    meta: metaFor([["cache-control", "max-age=60"], ...headers]),
    id: { url, primary: `key:${url}`, ...(derivedFrom === undefined ? {} : { derivedFrom }) },
  };
}

const keyOf = (path: string) => `key:http://example.com${path}`;

describeWithRedis("RedisTier", () => {
  // The contract every lower tier keeps: a fresh link and key prefix per case, so cases
  // never see each other's records. maxBytes does not apply: Redis evicts by its own
  // maxmemory policy, not by a budget of the tier's.
  let contractServer: RedisServer;
  let cases = 0;
  beforeAll(async () => {
    contractServer = await startRedisServer();
  });
  afterAll(async () => {
    await contractServer.close();
  });
  lowerTierContract("redis tier", async ({ maxObjectBytes, now, events }) => {
    const link = new RedisLink({ url: contractServer.url, timeoutMs: RELAXED_MS });
    expect(await link.ready(5000)).toBe(true);
    const tier = new RedisTier({
      link,
      keyPrefix: `contract${++cases}:`,
      maxObjectBytes,
      now,
      events,
    });
    return {
      tier,
      cleanup: async () => {
        await tier.close();
        await link.close();
      },
    };
  });

  let server: RedisServer;
  let clock = T0;
  const links: RedisLink[] = [];
  const tiers: RedisTier[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    await Promise.all(tiers.splice(0).map((tier) => tier.close()));
    await Promise.all(links.splice(0).map((link) => link.close()));
    if (!server.running) await server.start();
    await server.command("FLUSHALL");
    clock = T0;
  });

  async function node(
    events: LowerTierEvents[] = [],
    maxObjectBytes = 100_000,
    timeoutMs = RELAXED_MS,
  ) {
    const link = new RedisLink({ url: server.url, timeoutMs, maxBackoffMs: 50 });
    links.push(link);
    expect(await link.ready(5000)).toBe(true);
    const tier = new RedisTier({
      link,
      keyPrefix: PREFIX,
      maxObjectBytes,
      now: () => clock,
      events,
    });
    tiers.push(tier);
    return { link, tier };
  }

  async function put(tier: RedisTier, key: string, stored: RecordHead, body: string) {
    const writer = tier.writer(key, stored, Buffer.byteLength(body));
    if (writer === null) return false;
    writer.write(Buffer.from(body));
    return writer.commit();
  }

  async function bodyOf(tier: RedisTier, key: string): Promise<string | undefined> {
    const record = await tier.get(key);
    return record?.kind === "object" ? record.body.toString() : undefined;
  }

  it("stores a response and its Vary record, read back whole in one round trip", async () => {
    const { tier } = await node();
    const stored = head("/a", [["surrogate-key", "t1 t2"]]);
    expect(await put(tier, keyOf("/a"), stored, "alpha")).toBe(true);
    const record = await tier.get(keyOf("/a"));
    expect(record?.kind).toBe("object");
    if (record?.kind !== "object") return;
    expect(record.head).toEqual(stored);
    expect(record.body.toString()).toBe("alpha");
    // A body of its own, not a view into the client's read buffer.
    expect(record.body.buffer.byteLength).toBe(record.body.length);
    await tier.putVary(keyOf("/v"), ["accept-encoding"], stored.meta.deleteAt);
    expect(await tier.get(keyOf("/v"))).toEqual({ kind: "vary", fields: ["accept-encoding"] });
    expect(await tier.get(keyOf("/none"))).toBeUndefined();
  });

  it("Redis expires a record with its deleteAt; the tier's own clock decides before that", async () => {
    const seen: string[] = [];
    const { tier, link } = await node([
      {
        stored: (key) => seen.push(`stored ${key}`),
        removed: (key, _h, why) => seen.push(`removed ${key} ${why}`),
      },
    ]);
    const stored = head("/ttl");
    await put(tier, keyOf("/ttl"), stored, "x");
    const ttl = await link.command(["PTTL", `${PREFIX}r:=${keyOf("/ttl")}`]);
    const expected = stored.meta.deleteAt - clock + EXPIRY_GRACE_MS;
    expect(ttl.ok && typeof ttl.value === "number").toBe(true);
    expect(ttl.ok ? (ttl.value as number) : 0).toBeGreaterThan(expected - 1000);
    expect(ttl.ok ? (ttl.value as number) : 0).toBeLessThanOrEqual(expected);
    // The index sets last at least as long as their records.
    const setTtl = await link.command(["PTTL", `${PREFIX}u:=http://example.com/ttl`]);
    expect(setTtl.ok ? (setTtl.value as number) : 0).toBeGreaterThan(expected - 1000);
    clock = stored.meta.deleteAt;
    expect(await tier.get(keyOf("/ttl"))).toBeUndefined();
    await tier.close();
    const gone = await link.command(["EXISTS", `${PREFIX}r:=${keyOf("/ttl")}`]);
    expect(gone).toEqual({ ok: true, value: 0 });
    expect(seen).toEqual([`stored ${keyOf("/ttl")}`, `removed ${keyOf("/ttl")} expire`]);
    // A head already past its deleteAt is not taken at all.
    expect(tier.writer(keyOf("/late"), stored, 1)).toBeNull();
  });

  it("hashes long keys, and a record stored under another key is a miss", async () => {
    const { tier, link } = await node();
    const long = `key:http://example.com/${"p".repeat(500)}`;
    await put(tier, long, head("/long"), "long");
    expect(await bodyOf(tier, long)).toBe("long");
    const names = await link.command(["KEYS", `${PREFIX}r:*`]);
    expect(names.ok && (names.value as string[])).toEqual([
      expect.stringMatching(new RegExp(`^${PREFIX}r:#[0-9a-f]{32}$`)),
    ]);
    // Copy a record under another key's name: its head still names the first key.
    await put(tier, keyOf("/a"), head("/a"), "a");
    const source = `${PREFIX}r:=${keyOf("/a")}`;
    await link.command(["COPY", source, `${PREFIX}r:=${keyOf("/b")}`]);
    expect(await tier.get(keyOf("/b"))).toBeUndefined();
  });

  it("a damaged record is a miss: unparsable head, or a body not the length written", async () => {
    const { tier, link } = await node();
    await put(tier, keyOf("/h"), head("/h"), "hhh");
    await put(tier, keyOf("/n"), head("/n"), "nnn");
    await link.command(["HSET", `${PREFIX}r:=${keyOf("/h")}`, "h", "{not json"]);
    await link.command(["HSET", `${PREFIX}r:=${keyOf("/n")}`, "b", "nnnn"]);
    expect(await tier.get(keyOf("/h"))).toBeUndefined();
    expect(await tier.get(keyOf("/n"))).toBeUndefined();
    await tier.close();
    expect(await link.command(["EXISTS", `${PREFIX}r:=${keyOf("/n")}`])).toEqual({
      ok: true,
      value: 0,
    });
  });

  it("a writer copies what it is given, and gives up beyond maxObjectBytes", async () => {
    const { tier } = await node([], 8);
    expect(tier.writer(keyOf("/big"), head("/big"), 9)).toBeNull();
    const growing = tier.writer(keyOf("/big"), head("/big"), null);
    const chunk = Buffer.from("abcde");
    expect(growing?.write(chunk)).toBe(true);
    chunk.fill(0x7a); // the caller reuses its buffer
    expect(growing?.write(Buffer.from("fghi"))).toBe(false);
    expect(await growing?.commit()).toBe(false);
    const fits = tier.writer(keyOf("/fit"), head("/fit"), null);
    fits?.write(chunk.fill(0x61, 0, 5));
    const reused = Buffer.from("bcd");
    fits?.write(reused);
    reused.fill(0);
    expect(await fits?.commit()).toBe(true);
    expect(await bodyOf(tier, keyOf("/fit"))).toBe("aaaaabcd");
    const short = tier.writer(keyOf("/short"), head("/short"), 5);
    short?.write(Buffer.from("ab"));
    expect(await short?.commit()).toBe(false);
    expect(await tier.get(keyOf("/big"))).toBeUndefined();
  });

  it("two nodes on two links see each other's writes, new heads and deletes", async () => {
    const one = await node();
    const two = await node();
    await put(one.tier, keyOf("/shared"), head("/shared"), "from one");
    expect(await bodyOf(two.tier, keyOf("/shared"))).toBe("from one");
    const renewed = head("/shared", [["cache-control", "max-age=600"]]);
    expect(await two.tier.replaceHead(keyOf("/shared"), renewed)).toBe(true);
    const record = await one.tier.get(keyOf("/shared"));
    expect(record?.kind === "object" && record.head.meta.freshUntil).toBe(renewed.meta.freshUntil);
    expect(record?.kind === "object" && record.body.toString()).toBe("from one");
    expect(await one.tier.replaceHead(keyOf("/nothing"), renewed)).toBe(false);
    await one.tier.delete(keyOf("/shared"));
    expect(await two.tier.get(keyOf("/shared"))).toBeUndefined();
  });

  it("purges by URL (with the variants made from it), tag and prefix, counting each", async () => {
    const { tier, link } = await node();
    const source = "http://example.com/img/cat.jpg";
    await put(tier, keyOf("/img/cat.jpg"), head("/img/cat.jpg"), "cat");
    await put(tier, keyOf("/v/cat-100"), head("/v/cat-100", [], source), "small cat");
    await put(tier, keyOf("/v/cat-200"), head("/v/cat-200", [], source), "big cat");
    await put(tier, keyOf("/img/dog.jpg"), head("/img/dog.jpg"), "dog");
    await put(tier, keyOf("/t/1"), head("/t/1", [["surrogate-key", "red blue"]]), "1");
    await put(tier, keyOf("/t/2"), head("/t/2", [["surrogate-key", "red"]]), "2");
    await put(tier, keyOf("/p/a"), head("/p/a"), "pa");
    await put(tier, keyOf("/p/b/c"), head("/p/b/c"), "pbc");
    await put(tier, keyOf("/pq"), head("/pq"), "pq");

    expect(await tier.purge({ urls: [source] }, false, clock)).toBe(3);
    expect(await tier.get(keyOf("/v/cat-200"))).toBeUndefined();
    expect(await bodyOf(tier, keyOf("/img/dog.jpg"))).toBe("dog");
    expect(await tier.purge({ urls: [source] }, false, clock)).toBe(0);

    expect(await tier.purge({ tags: ["red"] }, false, clock)).toBe(2);
    expect(await tier.get(keyOf("/t/1"))).toBeUndefined();

    expect(await tier.purge({ prefixes: ["http://example.com/p/"] }, false, clock)).toBe(2);
    expect(await bodyOf(tier, keyOf("/pq"))).toBe("pq");
    // The URL list keeps only URLs something is still stored under.
    const urls = await link.command(["ZRANGE", `${PREFIX}urls`, "0", "-1"]);
    expect((urls.ok ? (urls.value as string[]) : []).map((m) => m.split("\n")[0]).sort()).toEqual([
      "http://example.com/img/dog.jpg",
      "http://example.com/pq",
    ]);
    // A variant's source URL under a prefix purges the variant too.
    await put(tier, keyOf("/v/dog-1"), head("/v/dog-1", [], "http://example.com/img/dog.jpg"), "d");
    expect(await tier.purge({ prefixes: ["http://example.com/img/"] }, false, clock)).toBe(2);
    expect(await tier.get(keyOf("/v/dog-1"))).toBeUndefined();
  });

  it("a soft purge makes the head stale now and keeps the body; the next head is shifted", async () => {
    const seen: string[] = [];
    const { tier } = await node([
      {
        stored: (key) => seen.push(`stored ${key}`),
        removed: (key, _h, why) => seen.push(`removed ${key} ${why}`),
      },
    ]);
    const stored = head("/s", [
      ["cache-control", "max-age=60, stale-while-revalidate=30"],
      ["surrogate-key", "soft"],
    ]);
    await put(tier, keyOf("/s"), stored, "kept");
    seen.length = 0;
    clock = T0 + 10_000;
    expect(await tier.purge({ tags: ["soft"] }, true, clock)).toBe(1);
    const record = await tier.get(keyOf("/s"));
    if (record?.kind !== "object") throw new Error("soft purge removed the record");
    expect(record.body.toString()).toBe("kept");
    const meta = record.head.meta;
    expect(meta.freshUntil).toBe(clock);
    expect(meta.staleWhileRevalidateUntil - meta.freshUntil).toBe(
      stored.meta.staleWhileRevalidateUntil - stored.meta.freshUntil,
    );
    expect(meta.deleteAt).toBe(stored.meta.deleteAt);
    expect(seen).toEqual([`removed ${keyOf("/s")} replace`, `stored ${keyOf("/s")}`]);
    // Still indexed: a second purge finds it (and changes nothing more).
    expect(await tier.purge({ urls: ["http://example.com/s"] }, true, clock)).toBe(1);
  });

  it("index entries of records Redis expired are pruned by the purge that finds them", async () => {
    const { tier, link } = await node();
    await put(tier, keyOf("/e"), head("/e", [["surrogate-key", "gone"]]), "e");
    await put(tier, keyOf("/f"), head("/f", [["surrogate-key", "gone"]]), "f");
    await link.command(["PEXPIRE", `${PREFIX}r:=${keyOf("/e")}`, "1"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await tier.purge({ tags: ["gone"] }, false, clock)).toBe(1);
    expect(await link.command(["EXISTS", `${PREFIX}t:=gone`])).toEqual({ ok: true, value: 0 });
    expect(await tier.purge({ prefixes: ["http://example.com/"] }, false, clock)).toBe(0);
    expect(await link.command(["ZCARD", `${PREFIX}urls`])).toEqual({ ok: true, value: 0 });
  });

  it("with Redis stopped: misses within the timeout, health down, writes dropped; back by itself", async () => {
    const { tier } = await node([], 100_000, TIMEOUT_MS);
    await put(tier, keyOf("/d"), head("/d"), "before");
    await server.stop();
    const started = performance.now();
    const reads = await Promise.all([tier.get(keyOf("/d")), tier.get(keyOf("/d"))]);
    expect(reads).toEqual([undefined, undefined]);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 150);
    await waitUntil(() => tier.health().state === "down");
    expect(tier.health()).toMatchObject({ state: "down", maxBytes: null });
    expect(tier.writer(keyOf("/w"), head("/w"), 1)).toBeNull();
    expect(await tier.replaceHead(keyOf("/d"), head("/d"))).toBe(false);
    await tier.delete(keyOf("/d"));
    await tier.putVary(keyOf("/v"), ["accept"], head("/v").meta.deleteAt);
    expect(await tier.purge({ tags: ["x"] }, false, clock)).toBe("down");
    await server.start();
    // No call from here: the link reconnects on its own.
    await waitUntil(() => tier.health().state === "up");
    expect(await put(tier, keyOf("/d"), head("/d"), "after")).toBe(true);
    expect(await bodyOf(tier, keyOf("/d"))).toBe("after");
    expect(tier.health()).toMatchObject({ state: "up", reconnects: 1 });
  });

  it("with Redis paused: a read gives up at the timeout and is a miss", async () => {
    const { tier } = await node([], 100_000, TIMEOUT_MS);
    await put(tier, keyOf("/slow"), head("/slow"), "slow");
    await server.pause(300);
    const started = performance.now();
    expect(await tier.get(keyOf("/slow"))).toBeUndefined();
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
    expect(took).toBeLessThan(TIMEOUT_MS + 150);
    expect(tier.health().timeouts).toBe(1);
    // Once the pause ends the same connection serves again.
    await waitUntil(async () => (await bodyOf(tier, keyOf("/slow"))) === "slow");
  });

  it("health reports the size Redis gives, and the link's figures", async () => {
    const { tier } = await node();
    await put(tier, keyOf("/h1"), head("/h1"), "x".repeat(1000));
    tier.health();
    await waitUntil(() => tier.health().entries > 0);
    const health = tier.health();
    expect(health.bytes).toBeGreaterThan(1000);
    expect(health).toMatchObject({ state: "up", maxBytes: null, timeouts: 0, errors: 0 });
    expect(health.url).toBe(server.url);
  });
});

async function waitUntil(check: () => boolean | Promise<boolean>, limitMs = 5000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
