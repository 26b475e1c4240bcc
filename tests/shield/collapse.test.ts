/**
 * Request collapsing over real sockets: concurrent misses for one key become one origin
 * fetch whose bytes stream to every waiting client, and a follower only ever receives
 * what it could have received itself.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { sleep, startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";

let origin: TestOrigin;
let t: TestShield;
let agent: Agent;

afterEach(async () => {
  await agent?.close();
  await t?.close();
  await origin?.close();
});

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { dispatcher: agent, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

function cacheStatus(h: Record<string, string | string[] | undefined>): string {
  return String(h["cache-status"] ?? "");
}

describe("collapsing concurrent misses", () => {
  it("500 concurrent cold requests make exactly 1 origin request and all get the same bytes", async () => {
    const payload = randomBytes(256 * 1024);
    origin = await startOrigin(async (_req, res) => {
      await sleep(150);
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "cache-control": "public, max-age=60",
      });
      // Several chunks over time, so followers join while the body is still arriving.
      for (let i = 0; i < 4; i++) {
        res.write(payload.subarray(i * 65_536, (i + 1) * 65_536));
        await sleep(20);
      }
      res.end();
    });
    t = testShield(origin.url, {}, { realClock: true });
    const base = await t.listen();
    agent = new Agent({ connections: 500, pipelining: 0 });
    const results = await Promise.all(Array.from({ length: 500 }, () => get(base, "/big")));
    expect(origin.count()).toBe(1);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body.equals(payload)).toBe(true);
    }
    const statuses = results.map((r) => cacheStatus(r.headers));
    // One leader; every other request waited on its fetch, or, on a machine so busy that
    // it arrived after the fill had ended, was a hit.
    expect(
      statuses.filter((s) => s === "shield; fwd=uri-miss; fwd-status=200; stored").length,
    ).toBe(1);
    const followers = statuses.filter((s) => s.endsWith("collapsed")).length;
    const hits = statuses.filter((s) => s.startsWith("shield; hit")).length;
    expect(followers + hits).toBe(499);
    expect(followers).toBeGreaterThan(400);
    // And then it is a hit.
    const after = await get(base, "/big");
    expect(cacheStatus(after.headers)).toMatch(/^shield; hit/);
    expect(after.body.equals(payload)).toBe(true);
    expect(origin.count()).toBe(1);
  });

  it("followers receive the first bytes before the origin has finished the body", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    origin = await startOrigin(async (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "public, max-age=60" });
      res.write("first-part;");
      await held;
      res.end("second-part");
    });
    t = testShield(origin.url, {}, { realClock: true });
    const base = await t.listen();
    agent = new Agent({ connections: 10 });
    const firstChunk = async () => {
      const res = await request(`${base}/slow-body`, { dispatcher: agent });
      const it = res.body[Symbol.asyncIterator]();
      const first = await it.next();
      return { res, it, first: Buffer.from(first.value as Buffer).toString() };
    };
    const leader = await firstChunk();
    const follower = await firstChunk();
    // Both clients already hold the first bytes while the origin still holds the rest.
    expect(leader.first).toBe("first-part;");
    expect(follower.first).toBe("first-part;");
    expect(cacheStatus(follower.res.headers)).toContain("collapsed");
    release();
    const rest = async (it: AsyncIterator<unknown>) => {
      let out = "";
      for (let c = await it.next(); !c.done; c = await it.next()) out += String(c.value);
      return out;
    };
    expect(await rest(follower.it)).toBe("second-part");
    expect(await rest(leader.it)).toBe("second-part");
    expect(origin.count()).toBe(1);
  });

  const unshareable: [string, Record<string, string>][] = [
    ["private", { "cache-control": "private, max-age=60" }],
    ["no-store", { "cache-control": "no-store" }],
    ["Set-Cookie", { "cache-control": "public, max-age=60", "set-cookie": "session=abc" }],
    ["not storable (max-age=0)", { "cache-control": "max-age=0" }],
  ];
  it.each(unshareable)(
    "a follower never shares a %s response: it fetches its own",
    async (_n, h) => {
      origin = await startOrigin(async (_req, res, seen) => {
        await sleep(100);
        res.writeHead(200, { "content-type": "text/plain", ...h });
        res.end(`for request ${seen.headers["x-user"]}`);
      });
      t = testShield(origin.url, {}, { realClock: true });
      const base = await t.listen();
      agent = new Agent({ connections: 10 });
      const users = ["a", "b", "c"];
      const results = await Promise.all(users.map((u) => get(base, "/me", { "x-user": u })));
      // Each user got the response made for them, never another user's.
      expect(results.map((r) => r.body.toString())).toEqual(users.map((u) => `for request ${u}`));
      expect(origin.count()).toBe(3);
      // The key is now remembered as uncacheable: later requests go straight to the origin
      // without queueing behind one another (both are at the origin at the same time).
      let concurrent = 0;
      let peak = 0;
      origin.handle(async (_req, res) => {
        concurrent++;
        peak = Math.max(peak, concurrent);
        await sleep(100);
        concurrent--;
        res.writeHead(200, { "content-type": "text/plain", ...h });
        res.end("x");
      });
      const later = await Promise.all([get(base, "/me"), get(base, "/me")]);
      expect(peak).toBe(2);
      for (const r of later) expect(cacheStatus(r.headers)).not.toContain("collapsed");
    },
  );

  it("a follower whose Vary header value differs fetches its own variant; an equal one shares", async () => {
    origin = await startOrigin(async (_req, res, seen) => {
      await sleep(100);
      res.writeHead(200, {
        "content-type": "text/plain",
        "cache-control": "public, max-age=60",
        vary: "Accept-Language",
      });
      res.end(`hello in ${seen.headers["accept-language"]}`);
    });
    t = testShield(origin.url, {}, { realClock: true });
    const base = await t.listen();
    agent = new Agent({ connections: 10 });
    const langs = ["en", "fr", "en"];
    const results = await Promise.all(
      langs.map((l) => get(base, "/greet", { "accept-language": l })),
    );
    expect(results.map((r) => r.body.toString())).toEqual(langs.map((l) => `hello in ${l}`));
    expect(origin.count()).toBe(2);
    // Both variants are stored and served to the right clients.
    const fr = await get(base, "/greet", { "accept-language": "fr" });
    const en = await get(base, "/greet", { "accept-language": "en" });
    expect(fr.body.toString()).toBe("hello in fr");
    expect(en.body.toString()).toBe("hello in en");
    expect(cacheStatus(fr.headers)).toMatch(/^shield; hit/);
    expect(cacheStatus(en.headers)).toMatch(/^shield; hit/);
    expect(origin.count()).toBe(2);
  });
});

describe("failures and disconnects", () => {
  it("an origin abort mid-body stores nothing, fails every waiting client, and the next request refetches", async () => {
    origin = await startOrigin(async (_req, res) => {
      res.writeHead(200, {
        "content-type": "text/plain",
        "cache-control": "public, max-age=60",
        "content-length": "100",
      });
      res.write("only part of it");
      await sleep(100);
      res.destroy();
    });
    t = testShield(origin.url, {}, { realClock: true });
    const base = await t.listen();
    agent = new Agent({ connections: 10 });
    const outcomes = await Promise.allSettled([get(base, "/flaky"), get(base, "/flaky")]);
    // Neither client gets a response that looks complete.
    for (const o of outcomes) expect(o.status).toBe("rejected");
    expect(origin.count()).toBe(1);
    origin.handle((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "public, max-age=60" });
      res.end("whole");
    });
    const next = await get(base, "/flaky");
    expect(next.body.toString()).toBe("whole");
    expect(cacheStatus(next.headers)).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(origin.count()).toBe(2);
  });

  it("a leader that disconnects cancels nothing: followers get the whole body and it is stored", async () => {
    const payload = randomBytes(64 * 1024);
    origin = await startOrigin(async (_req, res) => {
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "cache-control": "public, max-age=60",
      });
      res.write(payload.subarray(0, 1024));
      await sleep(200);
      res.end(payload.subarray(1024));
    });
    t = testShield(origin.url, {}, { realClock: true });
    const base = await t.listen();
    agent = new Agent({ connections: 10 });
    // The leader reads its first bytes and hangs up.
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${base}/leave`, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", (e) => (String(e).includes("socket hang up") ? resolve() : reject(e)));
      req.end();
    });
    const follower = await get(base, "/leave");
    expect(follower.body.equals(payload)).toBe(true);
    await t.shield.drain();
    const hit = await get(base, "/leave");
    expect(cacheStatus(hit.headers)).toMatch(/^shield; hit/);
    expect(hit.body.equals(payload)).toBe(true);
    expect(origin.count()).toBe(1);
  });

  it("bounds the waiting list: beyond maxWaiters a request gets 503 with Retry-After", async () => {
    origin = await startOrigin(async (_req, res) => {
      await sleep(200);
      res.writeHead(200, { "cache-control": "public, max-age=60" });
      res.end("ok");
    });
    t = testShield(origin.url, { shield: { collapse: { maxWaiters: 2 } } }, { realClock: true });
    const base = await t.listen();
    agent = new Agent({ connections: 10 });
    const results = await Promise.all(Array.from({ length: 4 }, () => get(base, "/q")));
    const codes = results.map((r) => r.status).sort();
    expect(codes).toEqual([200, 200, 200, 503]);
    const rejected = results.find((r) => r.status === 503);
    expect(rejected?.headers["retry-after"]).toBe("1");
    expect(JSON.parse(rejected?.body.toString() ?? "{}")).toMatchObject({ error: "queue_full" });
    expect(origin.count()).toBe(1);
  });

  it("a body over the per-object limit streams to every waiting client and is not stored", async () => {
    const payload = randomBytes(300 * 1024);
    origin = await startOrigin(async (_req, res) => {
      await sleep(100);
      res.writeHead(200, {
        "cache-control": "public, max-age=60",
        "content-length": String(payload.length),
      });
      res.end(payload);
    });
    t = testShield(
      origin.url,
      { shield: { memory: { maxBytes: 64 * 1024 * 1024, maxObjectBytes: 100 * 1024 } } },
      { realClock: true },
    );
    const base = await t.listen();
    agent = new Agent({ connections: 10 });
    const results = await Promise.all([get(base, "/huge"), get(base, "/huge"), get(base, "/huge")]);
    for (const r of results) {
      expect(r.body.equals(payload)).toBe(true);
      expect(cacheStatus(r.headers)).toContain("detail=too-large");
    }
    expect(origin.count()).toBe(1);
    const again = await get(base, "/huge");
    expect(again.body.equals(payload)).toBe(true);
    expect(origin.count()).toBe(2);
  });
});
