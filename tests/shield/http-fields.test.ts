/**
 * Response fields the shield has no meaning for are stored and relayed like any other
 * (RFC 9111 §3.1: a cache stores every field it received, except those a rule says not
 * to), from memory, from disk after a restart and after a 304 refresh; hop-by-hop ones
 * never (RFC 9110 §7.6.1, tests/shield/forwarding.test.ts has the Connection-listed
 * ones). Per-user cookies are never handed to anyone but the client that got them. A
 * head too large is refused, not stored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sleep, startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";
import { fill, harness } from "./support.ts";

const h = harness();

const UNKNOWN = {
  "x-custom-thing": "kept as sent",
  "x-trace-answer": "a=1; b=2",
  "content-security-policy": "default-src 'self'",
  "timing-allow-origin": "*",
  "x-empty": "",
};

function expectUnknownFields(res: Response): void {
  expect(res.headers.get("x-custom-thing")).toBe("kept as sent");
  expect(res.headers.get("x-trace-answer")).toBe("a=1; b=2");
  expect(res.headers.get("content-security-policy")).toBe("default-src 'self'");
  expect(res.headers.get("timing-allow-origin")).toBe("*");
  expect(res.headers.get("x-empty")).toBe("");
}

describe("end-to-end fields the shield does not know (RFC 9111 §3.1)", () => {
  it("are stored and relayed on the miss and on every hit", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", ...UNKNOWN });
      res.end("x");
    });
    const { res: miss } = await fill(t, "/u");
    expectUnknownFields(miss);
    for (let i = 0; i < 2; i++) {
      const hit = await t.request("/u");
      expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=60");
      expectUnknownFields(hit);
    }
    expect(origin.count()).toBe(1);
  });

  it("a repeated unknown field keeps every line, in order", async () => {
    const { t } = await h.start((_req, res) => {
      res.setHeader("cache-control", "max-age=60");
      res.setHeader("x-multi", ["one", "two", "three"]);
      res.end("x");
    });
    await fill(t, "/m");
    const hit = await t.request("/m");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(hit.headers.get("x-multi")).toBe("one, two, three");
  });

  it("are kept when a 304 refreshes the entry, and a new value in the 304 replaces the old (RFC 9111 §3.2)", async () => {
    let n = 0;
    const { t } = await h.start((_req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(200, { "cache-control": "max-age=1", etag: '"v"', ...UNKNOWN });
        res.end("x");
      } else {
        res.writeHead(304, { "cache-control": "max-age=60", etag: '"v"', "x-trace-answer": "new" });
        res.end();
      }
    });
    await fill(t, "/r");
    t.advance(2_000);
    await fill(t, "/r");
    const hit = await t.request("/r");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(hit.headers.get("x-custom-thing")).toBe("kept as sent");
    expect(hit.headers.get("x-trace-answer")).toBe("new");
    expect(n).toBe(2);
  });

  it("a Set-Cookie2 (per user, like Set-Cookie) reaches the client it was sent to, never a hit or a collapsed follower", async () => {
    const { origin, t } = await h.start(async (_req, res) => {
      await sleep(50);
      res.writeHead(200, {
        "cache-control": "max-age=60",
        "set-cookie2": 'session="alice"; Version="1"',
        "x-custom-thing": "kept",
      });
      res.end("x");
    });
    const base = await t.listen();
    const [leader, follower] = await Promise.all([fetch(`${base}/c`), fetch(`${base}/c`)]);
    const responses = [leader, follower];
    const withCookie = responses.filter((r) => r.headers.get("set-cookie2") !== null);
    // Whoever's request reached the origin got its cookie; nobody else did.
    expect(withCookie.length).toBe(origin.count() >= 2 ? 2 : 1);
    await Promise.all(responses.map((r) => r.text()));
    await t.shield.drain();
    const hit = await fetch(`${base}/c`);
    expect(hit.headers.get("set-cookie2")).toBeNull();
    expect(hit.headers.get("x-custom-thing")).toBe("kept");
  });
});

describe("an origin error shared with a collapsed herd", () => {
  it("is not shared when it sets a Set-Cookie2: each waiting client fetches its own", async () => {
    let n = 0;
    const { origin, t } = await h.start(async (_req, res) => {
      const mine = ++n;
      await sleep(50);
      res.writeHead(503, { "set-cookie2": `session="${mine}"; Version="1"` });
      res.end("down");
    });
    const base = await t.listen();
    const answers = await Promise.all([fetch(`${base}/e`), fetch(`${base}/e`)]);
    const cookies = answers.map((r) => r.headers.get("set-cookie2"));
    for (const r of answers) expect(r.status).toBe(503);
    // Every client got the cookie of the fetch made for it, none another's.
    expect(new Set(cookies).size).toBe(2);
    expect(origin.count()).toBe(2);
  });
});

describe("from the disk tier after a restart", () => {
  let dir = "";
  let origin: TestOrigin | undefined;
  const shields: TestShield[] = [];
  afterEach(async () => {
    for (const s of shields.splice(0)) await s.close();
    await origin?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("a restarted node serves the stored unknown fields from disk", async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-fields-"));
    origin = await startOrigin((_req, res) => {
      res.writeHead(200, { "cache-control": "public, max-age=600", ...UNKNOWN });
      res.end("on disk");
    });
    const config = { shield: { disk: { dir, maxBytes: 16 * 1024 * 1024 } } };
    const first = testShield(origin.url, config);
    shields.push(first);
    await fill(first, "/d");
    await first.close();
    shields.splice(0);

    const second = testShield(origin.url, config);
    shields.push(second);
    const hit = await second.request("/d");
    expect(await hit.text()).toBe("on disk");
    // A new node's memory is empty: this hit was read from the disk tier.
    expect(hit.headers.get("cache-status")).toMatch(/^shield; hit;/);
    expectUnknownFields(hit);
    expect(origin.count()).toBe(1);
  });
});

describe("header size bounds", () => {
  it("an origin head over the client's bound (unknown fields of 64 KiB) is a 502, and nothing is stored", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, {
        "cache-control": "max-age=60",
        "x-huge": "a".repeat(64 * 1024),
      });
      res.end("x");
    });
    const first = await fill(t, "/big-head");
    expect(first.res.status).toBe(502);
    const second = await fill(t, "/big-head");
    expect(second.res.status).toBe(502);
    expect(origin.count()).toBe(2);
  });
});
