/**
 * Cache-Status at the edge keeps the members of the caches behind it (RFC 9211 §2: each
 * cache appends its member after those nearer the origin), in the real workerd: the
 * shield's member of the fill is stored with the entry and written before the edge's on
 * hits, stale hits and revalidated hits; after a 304 the members of the 304's answer
 * replace it. What an upstream writes is hostile data: a member in the edge's own name
 * is dropped, malformed members are dropped, and the list is bounded.
 */
import { describe, expect, it } from "vitest";
import {
  formatCacheStatusMember,
  parseCacheStatus,
  UPSTREAM_BYTES_MAX,
  UPSTREAM_MEMBERS_MAX,
  upstreamCacheStatus,
} from "../../core/http/cache-status.ts";
import { cdnConfig, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const FILL = "shield; fwd=uri-miss; fwd-status=200; stored";

describe("upstream members an origin or shield may not write (RFC 9211 §2)", () => {
  it("drops a member in the edge's own name, on the miss and on every hit", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", "cache-status": `edge; hit; ttl=9999, ${FILL}` },
      body: "x",
    });
    const miss = await edge.send(path);
    expect(miss.headers.get("cache-status")).toBe(
      `${FILL}, edge; fwd=uri-miss; fwd-status=200; stored`,
    );
    const hit = await edge.send(path);
    expect(hit.headers.get("cache-status")).toBe(`${FILL}, edge; hit; ttl=60`);
  });

  it("drops it under the configured name too, whatever its case", async () => {
    const edge = testEdge(cdnConfig({ edge: { cacheStatusName: "pop" } }));
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", "cache-status": `POP; hit, ${FILL}, pop; hit` },
      body: "x",
    });
    await edge.send(path);
    expect((await edge.send(path)).headers.get("cache-status")).toBe(`${FILL}, pop; hit; ttl=60`);
  });

  it("keeps only the members nearest the edge, within a byte bound", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const many = Array.from({ length: 100 }, (_, i) => `c${i}; hit; detail="${"y".repeat(80)}"`);
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", "cache-status": [...many, FILL].join(", ") },
      body: "x",
    });
    for (const res of [await edge.send(path), await edge.send(path)]) {
      const members = parseCacheStatus(res.headers.get("cache-status"));
      // The upstream members kept, then the edge's own.
      expect(members.length).toBeLessThanOrEqual(UPSTREAM_MEMBERS_MAX + 1);
      expect(members.at(-2)?.cache).toBe("shield");
      expect(members.at(-1)?.cache).toBe("edge");
      const upstream = (res.headers.get("cache-status") ?? "").replace(/, edge; [^,]*$/, "");
      expect(upstream.length).toBeLessThanOrEqual(UPSTREAM_BYTES_MAX);
    }
  });

  it("drops a field that does not parse, and unknown parameters", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", "cache-status": `shield; hit; ttl="x, (broken` },
      body: "x",
    });
    await edge.send(path);
    expect((await edge.send(path)).headers.get("cache-status")).toBe("edge; hit; ttl=60");

    expect(upstreamCacheStatus("shield; hit; evil=1; ttl=5", "edge")).toBe("shield; hit; ttl=5");
    expect(upstreamCacheStatus("(a b), shield; hit", "edge")).toBe("shield; hit");
    expect(upstreamCacheStatus("x".repeat(20_000), "edge")).toBeNull();
  });

  it("bounds members one by one: whole members, the nearest first", () => {
    const member = formatCacheStatusMember({ cache: "c", hit: true, detail: "z".repeat(300) });
    const kept = upstreamCacheStatus([1, 2, 3, 4, 5].map(() => member).join(", "), "edge");
    expect(kept).not.toBeNull();
    const members = parseCacheStatus(kept);
    expect(members.length).toBe(3);
    expect(members.every((m) => m.detail === "z".repeat(300))).toBe(true);
  });
});

describe("the stored upstream members on each answer from the entry", () => {
  it("writes the fill's shield member before the edge's on fresh and stale hits", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const cc = "max-age=10, stale-while-revalidate=60";
    await scriptAll(path, {
      headers: { "cache-control": cc, etag: '"v1"', "cache-status": FILL },
      body: "x",
    });
    await edge.send(path);
    expect((await edge.send(path)).headers.get("cache-status")).toBe(`${FILL}, edge; hit; ttl=10`);
    await scriptAll(path, {
      status: 304,
      headers: { "cache-control": cc, etag: '"v1"', "cache-status": "shield; hit; ttl=40" },
    });
    edge.advance(15);
    const stale = await edge.send(path);
    expect(stale.headers.get("cache-status")).toBe(
      `${FILL}, edge; hit; ttl=-5; detail=stale-while-revalidate`,
    );
    // Renewed in the background by the 304: its answer's member now.
    const renewed = await edge.send(path);
    expect(renewed.headers.get("cache-status")).toBe("shield; hit; ttl=40, edge; hit; ttl=10");
  });

  it("after a 304 in the foreground, the 304's members; none when it carries none", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10", etag: '"v1"', "cache-status": FILL },
      body: "x",
    });
    await edge.send(path);
    await scriptAll(path, {
      status: 304,
      headers: {
        "cache-control": "max-age=10",
        etag: '"v1"',
        "cache-status": "shield; fwd=stale; fwd-status=304; stored",
      },
    });
    edge.advance(20);
    const revalidated = await edge.send(path);
    expect(revalidated.headers.get("cache-status")).toBe(
      "shield; fwd=stale; fwd-status=304; stored, edge; fwd=stale; fwd-status=304; stored",
    );
    expect((await edge.send(path)).headers.get("cache-status")).toBe(
      "shield; fwd=stale; fwd-status=304; stored, edge; hit; ttl=10",
    );
    await scriptAll(path, {
      status: 304,
      headers: { "cache-control": "max-age=10", etag: '"v1"' },
    });
    edge.advance(20);
    await edge.send(path);
    expect((await edge.send(path)).headers.get("cache-status")).toBe("edge; hit; ttl=10");
  });

  it("answers a HEAD hit from the stored GET: its fields, Content-Length and members, no body", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", "cache-status": FILL, "test-header": "t" },
      body: "twelve bytes",
    });
    await edge.send(path);
    const head = await edge.send(path, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.bytes.length).toBe(0);
    expect(head.headers.get("test-header")).toBe("t");
    expect(head.headers.get("content-length")).toBe("12");
    expect(head.headers.get("cache-status")).toBe(`${FILL}, edge; hit; ttl=60`);
  });

  it("serves stale-if-error with the stored members when the shield cannot be reached", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10, stale-if-error=60", "cache-status": FILL },
      body: "x",
    });
    await edge.send(path);
    await scriptAll(path, { hangup: true });
    edge.advance(20);
    const res = await edge.send(path);
    expect(res.text).toBe("x");
    expect(res.headers.get("cache-status")).toMatch(
      new RegExp(`^${FILL}, edge; fwd=stale; ttl=-10; detail=stale-if-error`),
    );
  });

  it("serves stale-if-error with the members of the shield's error answer when it sent one", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10, stale-if-error=60", "cache-status": FILL },
      body: "x",
    });
    await edge.send(path);
    const failed = "shield; fwd=stale; detail=origin-timeout";
    await scriptAll(path, { status: 504, headers: { "cache-status": failed }, body: "{}" });
    edge.advance(20);
    const res = await edge.send(path);
    expect(res.text).toBe("x");
    expect(res.headers.get("cache-status")).toBe(
      `${failed}, edge; fwd=stale; fwd-status=504; ttl=-10; detail=stale-if-error`,
    );
  });
});
