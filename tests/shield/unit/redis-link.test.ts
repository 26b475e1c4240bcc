/**
 * RedisLink against a real redis-server of its own: commands bounded by their timeout,
 * failing at once while Redis is down, the state following the connection, reconnection
 * and resubscription without any call from outside.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { type LinkState, RedisLink } from "../../../origin-shield/cluster/redis-link.ts";
import {
  describeWithRedis,
  type RedisServer,
  startRedisServer,
} from "../../helpers/redis-server.ts";

/** The timeout of the cases that measure it; the others get a generous one (shared CI). */
const TIMEOUT_MS = 40;
const RELAXED_MS = 1000;

describeWithRedis("RedisLink", () => {
  let server: RedisServer;
  const links: RedisLink[] = [];

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

  async function open(timeoutMs = RELAXED_MS): Promise<RedisLink> {
    const link = new RedisLink({ url: server.url, timeoutMs, maxBackoffMs: 50 });
    links.push(link);
    expect(await link.ready(5000)).toBe(true);
    return link;
  }

  it("runs commands, with bulk strings as Buffers when asked", async () => {
    const link = await open();
    expect(link.state).toBe("up");
    expect(await link.command(["SET", "k", "value"])).toEqual({ ok: true, value: "OK" });
    const read = await link.command(["GET", "k"], { buffers: true });
    expect(read.ok && Buffer.isBuffer(read.value) && read.value.toString()).toBe("value");
    const wrong = await link.command(["INCR", "k"]);
    expect(wrong).toMatchObject({ ok: false, failure: "error" });
    expect(link.health()).toMatchObject({ state: "up", errors: 1, timeouts: 0 });
  });

  it("a command to a paused Redis gives up at its timeout, and later replies stay matched", async () => {
    const link = await open(TIMEOUT_MS);
    await link.command(["SET", "a", "1"], { timeoutMs: RELAXED_MS });
    await link.command(["SET", "b", "2"], { timeoutMs: RELAXED_MS });
    await server.pause(400);
    const started = performance.now();
    const slow = await link.command(["GET", "a"]);
    const took = performance.now() - started;
    expect(slow).toMatchObject({ ok: false, failure: "timeout" });
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
    expect(took).toBeLessThan(TIMEOUT_MS + 150);
    // A longer bound for one command, while the others keep theirs.
    const patient = link.command(["GET", "b"], { timeoutMs: 2000 });
    expect((await patient).ok).toBe(true);
    expect(await link.command(["GET", "b"], { timeoutMs: RELAXED_MS })).toEqual({
      ok: true,
      value: "2",
    });
    expect(link.health().timeouts).toBe(1);
    expect(link.state).toBe("up");
  });

  it("a Redis that stops answering counts as down after 5 timeouts in a row, until it answers", async () => {
    const link = await open(TIMEOUT_MS);
    const seen: LinkState[] = [];
    link.onState((state) => seen.push(state));
    await server.pause(800);
    for (let at = 0; at < 5; at++) {
      expect(await link.command(["PING"])).toMatchObject({ ok: false, failure: "timeout" });
    }
    expect(link.state).toBe("down");
    expect(link.health().error).toMatch(/unresponsive/);
    // No request pays the timeout any more: it fails at once.
    const started = performance.now();
    expect(await link.command(["PING"])).toMatchObject({ ok: false, failure: "down" });
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS / 2);
    // Once Redis answers a probe again, the link is up without any call from here.
    await waitUntil(() => link.state === "up");
    expect(seen).toEqual(["down", "up"]);
    expect(await link.command(["PING"], { timeoutMs: RELAXED_MS })).toEqual({
      ok: true,
      value: "PONG",
    });
  });

  it("goes down with Redis, fails fast meanwhile, and comes back by itself", async () => {
    const link = await open();
    const seen: LinkState[] = [];
    link.onState((state) => seen.push(state));
    await server.stop();
    await waitUntil(() => link.state === "down");
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 100 }, () => link.command(["GET", "x"])),
    );
    expect(performance.now() - started).toBeLessThan(50);
    for (const result of results) expect(result).toMatchObject({ ok: false, failure: "down" });
    expect(await link.publish("c", "m")).toBeNull();
    expect(link.health()).toMatchObject({ state: "down" });
    expect(link.health().error).toBeTypeOf("string");
    await server.start();
    await waitUntil(() => link.state === "up");
    expect(seen).toEqual(["down", "up"]);
    expect(link.health()).toMatchObject({ state: "up", reconnects: 1 });
    expect(await link.command(["PING"])).toEqual({ ok: true, value: "PONG" });
  });

  it("resubscribes after a restart: a message published afterwards reaches the handler", async () => {
    const listener = await open();
    const publisher = await open();
    const heard: string[] = [];
    listener.subscribe("news", (message) => heard.push(message));
    expect(await listener.ready(2000)).toBe(true);
    expect(await publisher.publish("news", "before")).toBe(1);
    await waitUntil(() => heard.length === 1);
    await server.stop();
    await waitUntil(() => listener.state === "down" && publisher.state === "down");
    await server.start();
    expect(await listener.ready(5000)).toBe(true);
    expect(await publisher.ready(5000)).toBe(true);
    // The subscriber connection may come back a moment after the command connection.
    await waitUntil(async () => (await publisher.publish("news", "probe")) === 1);
    await publisher.publish("news", "after");
    await waitUntil(() => heard.includes("after"));
    expect(heard[0]).toBe("before");
  });

  it("a subscription made while Redis is down starts once it is back; unsubscribing stops it", async () => {
    const listener = await open();
    const publisher = await open();
    await server.stop();
    await waitUntil(() => listener.state === "down");
    const heard: string[] = [];
    const stop = listener.subscribe("late", (message) => heard.push(message));
    await server.start();
    expect(await listener.ready(5000)).toBe(true);
    await waitUntil(async () => (await publisher.publish("late", "hello")) === 1);
    await waitUntil(() => heard.length > 0);
    stop();
    await waitUntil(async () => (await publisher.publish("late", "gone")) === 0);
  });

  it("health never shows the password, and a closed link answers down", async () => {
    const link = new RedisLink({ url: "redis://user:secret@127.0.0.1:1/0", timeoutMs: 20 });
    links.push(link);
    expect(link.health().url).not.toContain("secret");
    expect(link.health().state).toBe("down");
    expect(await link.command(["PING"])).toMatchObject({ ok: false, failure: "down" });
    const live = await open();
    await live.close();
    expect(live.state).toBe("down");
    expect(await live.command(["PING"])).toMatchObject({ ok: false, failure: "down" });
  });
});

async function waitUntil(check: () => boolean | Promise<boolean>, limitMs = 5000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
