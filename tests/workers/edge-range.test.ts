/**
 * Byte ranges answered by the edge from a stored (or just fetched, whole) copy, RFC 9110
 * §14, and the Content-Length of what it sends. Hostile first: a Range request must never
 * make the edge store a part as the whole object.
 */
import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const BODY = "0123456789abcdefghij";
const MODIFIED = "Tue, 01 Dec 2026 10:00:00 GMT";
const WHOLE = {
  headers: {
    "cache-control": "max-age=600",
    "content-type": "text/plain",
    etag: '"v1"',
    "last-modified": MODIFIED,
  },
  body: BODY,
};

const TIERS = [
  ["memory tier and Cache API", {}],
  ["Cache API only", { memory: { enabled: false } }],
] as const;

const range = (value: string, more: Record<string, string> = {}) => ({
  headers: { range: value, ...more },
});

describe.each(TIERS)("%s", (_tiers, edgePatch) => {
  const config = cdnConfig({ edge: edgePatch });

  it("a Range miss fetches the whole object without Range and stores it whole", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, WHOLE);
    const part = await edge.send(path, range("bytes=0-3"));
    expect(part.status).toBe(206);
    expect(part.text).toBe("0123");
    expect(part.headers.get("content-range")).toBe("bytes 0-3/20");
    const sent = await receivedAll(path);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers.range).toBeUndefined();
    // The stored object is the whole body, not the part the first client asked for.
    const whole = await edge.send(path);
    expect(whole.status).toBe(200);
    expect(whole.text).toBe(BODY);
    expect(whole.headers.get("content-length")).toBe("20");
    expect(whole.headers.get("cache-status")).toMatch(/edge; hit/);
  });

  it("a client that reads only the first bytes of a large miss still leaves the whole body stored", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    const large = "0123456789abcdef".repeat(16 * 1024);
    await scriptAll(path, { ...WHOLE, body: large });
    const part = await edge.send(path, range("bytes=0-9"));
    expect(part.text).toBe("0123456789");
    const whole = await edge.send(path);
    expect(whole.headers.get("cache-status")).toMatch(/edge; hit/);
    expect(whole.text.length).toBe(large.length);
    expect(whole.text).toBe(large);
  });

  it("never stores a 206, or a 200 carrying Content-Range, from upstream", async () => {
    const edge = testEdge(config);
    for (const status of [206, 200]) {
      const path = uniquePath();
      await scriptAll(path, {
        status,
        headers: { ...WHOLE.headers, "content-range": "bytes 0-3/20" },
        body: "0123",
      });
      await edge.send(path);
      const again = await edge.send(path);
      expect(again.headers.get("cache-status"), String(status)).not.toMatch(/edge; hit/);
      expect(await receivedAll(path)).toHaveLength(2);
    }
  });

  it.each([
    ["bytes=2-5", "2345", "bytes 2-5/20"],
    ["bytes=15-", "fghij", "bytes 15-19/20"],
    ["bytes=-3", "hij", "bytes 17-19/20"],
    ["bytes=18-400", "ij", "bytes 18-19/20"],
    ["bytes=-100", BODY, "bytes 0-19/20"],
  ])(
    "answers %s from the stored copy as a 206 (RFC 9110 §14.1.2, §15.3.7)",
    async (value, text, contentRange) => {
      const edge = testEdge(config);
      const path = uniquePath();
      await scriptAll(path, WHOLE);
      await edge.send(path);
      const part = await edge.send(path, range(value));
      expect(part.status).toBe(206);
      expect(part.text).toBe(text);
      expect(part.headers.get("content-range")).toBe(contentRange);
      expect(part.headers.get("content-length")).toBe(String(text.length));
      expect(part.headers.get("etag")).toBe('"v1"');
      expect(part.headers.get("cache-status")).toMatch(/edge; hit/);
      expect(await receivedAll(path)).toHaveLength(1);
    },
  );

  it("answers an unsatisfiable range with 416 and the length (RFC 9110 §15.5.17)", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, WHOLE);
    await edge.send(path);
    for (const value of ["bytes=20-", "bytes=-0"]) {
      const res = await edge.send(path, range(value));
      expect(res.status, value).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */20");
      expect(res.text).toBe("");
    }
  });

  it.each([
    ["several ranges", "bytes=0-1, 4-5"],
    ["another unit", "items=0-1"],
    ["a malformed range", "bytes=5-2"],
  ])("sends the whole 200 for %s (RFC 9110 §14.2)", async (_what, value) => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, WHOLE);
    await edge.send(path);
    const res = await edge.send(path, range(value));
    expect(res.status).toBe(200);
    expect(res.text).toBe(BODY);
    expect(res.headers.get("content-range")).toBeNull();
  });

  it.each([
    ["the stored strong ETag", '"v1"', 206],
    ["another ETag", '"v0"', 200],
    ["a weak ETag", 'W/"v1"', 200],
    ["the Last-Modified date", MODIFIED, 206],
    ["another date", "Mon, 30 Nov 2026 10:00:00 GMT", 200],
  ])("If-Range with %s → %s (RFC 9110 §13.1.5)", async (_what, ifRange, status) => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, WHOLE);
    await edge.send(path);
    const res = await edge.send(path, range("bytes=0-1", { "if-range": ifRange }));
    expect(res.status).toBe(status);
    expect(res.text).toBe(status === 206 ? "01" : BODY);
  });

  it("answers a conditional GET with 304 before looking at Range (RFC 9110 §13.2.2)", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, WHOLE);
    await edge.send(path);
    const res = await edge.send(path, range("bytes=0-1", { "if-none-match": '"v1"' }));
    expect(res.status).toBe(304);
  });

  it("ignores Range on a HEAD", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, WHOLE);
    await edge.send(path);
    const res = await edge.send(path, { method: "HEAD", headers: { range: "bytes=0-1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-range")).toBeNull();
  });

  it("keeps Content-Length on hits of a body that arrived chunked, and after a 304 renewal", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(
      path,
      { ...WHOLE, headers: { ...WHOLE.headers, "cache-control": "max-age=10" }, chunked: true },
      { status: 304, headers: { "cache-control": "max-age=10", etag: '"v1"' } },
    );
    const first = await edge.send(path);
    expect(first.text).toBe(BODY);
    const hit = await edge.send(path);
    expect(hit.headers.get("cache-status")).toMatch(/edge; hit/);
    expect(hit.headers.get("content-length")).toBe("20");
    expect((await edge.send(path, range("bytes=-2"))).text).toBe("ij");
    edge.advance(30);
    const renewed = await edge.send(path);
    expect(renewed.status).toBe(200);
    expect(renewed.text).toBe(BODY);
    expect(renewed.headers.get("content-length")).toBe("20");
    expect((await receivedAll(path)).map((l) => l.headers["if-none-match"] ?? null)).toEqual([
      null,
      '"v1"',
    ]);
    const after = await edge.send(path);
    expect(after.headers.get("cache-status")).toMatch(/edge; hit/);
    expect(after.headers.get("content-length")).toBe("20");
  });
});

describe("ranges of a coded body (RFC 9110 §14.1.1: bytes of the coded body)", () => {
  const BR = "G3sB+I1Utb8ea4OTU2VvOUgthKUIw9CTRu9IHgE=";
  const coded = Uint8Array.from(atob(BR), (c) => c.charCodeAt(0));
  const CODED = {
    headers: {
      "cache-control": "max-age=600",
      "content-type": "text/plain",
      "content-encoding": "br",
      vary: "Accept-Encoding",
    },
    bodyBase64: BR,
  };

  it("sends a part of the coded bytes to a client that takes br and nothing the runtime could re-code it into", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, CODED);
    const init = { headers: { "accept-encoding": "br", range: "bytes=0-4" } };
    await edge.send(path, { headers: { "accept-encoding": "br" } });
    const part = await edge.send(path, init);
    expect(part.status).toBe(206);
    expect([...part.bytes]).toEqual([...coded.subarray(0, 5)]);
    expect(part.headers.get("content-encoding")).toBe("br");
    expect(part.headers.get("content-range")).toBe(`bytes 0-4/${coded.length}`);
  });

  it("sends the whole coded 200 to a client that also takes gzip (the runtime may re-code it)", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, CODED);
    const chrome = { "accept-encoding": "gzip, deflate, br, zstd" };
    await edge.send(path, { headers: chrome });
    const res = await edge.send(path, { headers: { ...chrome, range: "bytes=0-4" } });
    expect(res.status).toBe(200);
    expect([...res.bytes]).toEqual([...coded]);
    expect(res.headers.get("content-length")).toBe(String(coded.length));
  });
});
