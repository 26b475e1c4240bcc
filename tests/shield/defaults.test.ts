/**
 * The shield's defaults for collapsing and the memory tier, as a user meets them when the
 * config leaves them out (the README's table documents the same figures):
 * memory.maxBytes 256 MiB, memory.maxObjectBytes 16 MiB, collapse.maxWaiters 10000,
 * collapse.uncacheableTtl 120 s.
 */
import { describe, expect, it } from "vitest";
import { NO_CREDENTIALS } from "../../core/policy/index.ts";
import { OriginError } from "../../origin-shield/origin/origin-error.ts";
import { harness } from "./support.ts";

const h = harness();

describe("defaults of shield.memory and shield.collapse", () => {
  it("memory.maxBytes is 256 MiB (reported by /__shield/health)", async () => {
    const { t } = await h.start((_req, res) => void res.end("x"));
    const health = (await (await t.request("/__shield/health")).json()) as {
      memory: { maxBytes: number };
    };
    expect(health.memory.maxBytes).toBe(256 * 1024 * 1024);
  });

  it("memory.maxObjectBytes is 16 MiB: a body of exactly 16 MiB is stored, one byte more is not", async () => {
    const size = (path: string) => (path === "/at" ? 16 * 1024 * 1024 : 16 * 1024 * 1024 + 1);
    const { t } = await h.start((req, res) => {
      const n = size(req.url ?? "");
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(n) });
      res.end(Buffer.alloc(n, 0x61));
    });
    for (const path of ["/at", "/over"]) {
      const res = await t.request(path);
      expect((await res.arrayBuffer()).byteLength).toBe(size(path));
      await t.shield.drain();
    }
    expect((await t.request("/at", { method: "HEAD" })).headers.get("cache-status")).toMatch(
      /^shield; hit/,
    );
    const over = await t.request("/over", { method: "HEAD" });
    expect(over.headers.get("cache-status")).toMatch(/^shield; fwd=uri-miss/);
  });

  it("collapse.maxWaiters is 10000: the 10001st follower of one fill is refused", async () => {
    const { t } = await h.start((_req, res) => void res.end("x"));
    const collapser = t.shield.context.collapser;
    let fail!: (e: unknown) => void;
    const pending = new Promise<never>((_resolve, reject) => {
      fail = reject;
    });
    const job = {
      primary: "key:waiters",
      id: { url: "http://example.com/waiters", primary: "key:waiters" },
      request: { method: "GET", headers: new Headers() },
      credentials: NO_CREDENTIALS,
      path: "/waiters",
      conditional: [],
      shared: true,
      fetch: () => pending,
    };
    const leader = collapser.join(job);
    expect(leader !== "full" && leader.follower).toBe(false);
    for (let i = 0; i < 10_000; i++) expect(collapser.join(job)).not.toBe("full");
    expect(collapser.join(job)).toBe("full");
    fail(new OriginError("timeout", "released by the test"));
    await t.shield.drain();
  });

  it("collapse.uncacheableTtl is 120 s: a key stays hit-for-miss for 120 s of the clock", async () => {
    const { t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "private" });
      res.end("mine");
    });
    const collapsed = async () => {
      const text = await (await t.request("/__shield/metrics")).text();
      return Number(/^shield_collapsed_followers_total (\d+)/m.exec(text)?.[1]);
    };
    /** Two requests at once for the key; how many of them queued behind the other. */
    const pair = async () => {
      const before = await collapsed();
      await Promise.all([t.request("/p"), t.request("/p")].map((r) => r.then((x) => x.text())));
      await t.shield.drain();
      return (await collapsed()) - before;
    };
    await t.request("/p").then((r) => r.text());
    await t.shield.drain();
    t.advance(119_000);
    // Marked: both go to the origin at once, neither waits on the other.
    expect(await pair()).toBe(0);
    t.advance(121_000); // past the mark the pair above renewed at 119 s
    expect(await pair()).toBe(1);
  });
});
