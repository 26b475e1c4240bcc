/**
 * HEAD answered from a stored GET (RFC 9110 §9.3.2, RFC 9111 §4) and byte ranges served
 * from a stored full response (RFC 9110 §14).
 */
import { describe, expect, it } from "vitest";
import { CLOCK_START } from "../helpers/shield.ts";
import { fill, harness, httpDate, sequence } from "./support.ts";

const h = harness();
const BODY = "0123456789abcdefghijklmnopqrstuvwxyz"; // 36 bytes
const LAST_MODIFIED = httpDate(CLOCK_START - 3_600_000);
const STORED = {
  headers: {
    "cache-control": "max-age=60",
    "content-type": "text/plain",
    etag: '"r1"',
    "last-modified": LAST_MODIFIED,
    "content-length": String(BODY.length),
  },
  body: BODY,
};

describe("HEAD (RFC 9110 §9.3.2)", () => {
  it("is answered from the stored GET: same status and Content-Length, no body, no origin request", async () => {
    const { origin, t } = await h.start(sequence(STORED));
    await fill(t, "/h");
    const head = await t.request("/h", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(BODY.length));
    expect(head.headers.get("content-type")).toBe("text/plain");
    expect(head.headers.get("etag")).toBe('"r1"');
    expect(head.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(await head.text()).toBe("");
    expect(origin.count()).toBe(1);
  });

  it("a HEAD miss is filled with a GET, so the next GET is a hit with the whole body", async () => {
    const { origin, t } = await h.start(sequence(STORED));
    const head = await t.request("/h", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect(head.headers.get("content-length")).toBe(String(BODY.length));
    expect(head.headers.get("cache-status")).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    await t.shield.drain();
    expect(origin.requests.map((r) => r.method)).toEqual(["GET"]);

    const get = await t.request("/h");
    expect(await get.text()).toBe(BODY);
    expect(get.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(origin.count()).toBe(1);
  });

  it("a HEAD the cache does not answer (bypass rule) is forwarded as HEAD", async () => {
    const { origin, t } = await h.start(sequence(STORED), {
      rules: [{ match: { path: "/live/**" }, bypass: true }],
    });
    for (let i = 0; i < 2; i++) {
      const head = await t.request("/live/feed", { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(BODY.length));
      expect(head.headers.get("cache-status")).toBe(
        "shield; fwd=bypass; fwd-status=200; detail=rule",
      );
      expect(await head.text()).toBe("");
    }
    expect(origin.requests.map((r) => r.method)).toEqual(["HEAD", "HEAD"]);
  });

  it("a HEAD miss through a real socket gets headers only", async () => {
    const { origin, t } = await h.start(sequence(STORED));
    const base = await t.listen();
    const head = await fetch(`${base}/h2`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(BODY.length));
    expect(await head.text()).toBe("");
    await t.shield.drain();
    const get = await fetch(`${base}/h2`);
    expect(await get.text()).toBe(BODY);
    expect(origin.requests.map((r) => r.method)).toEqual(["GET"]);
  });
});

describe("Range requests from the stored response (RFC 9110 §14)", () => {
  const cases: {
    name: string;
    headers: Record<string, string>;
    status: number;
    body: string;
    contentRange?: string;
  }[] = [
    {
      name: "bytes=2-5",
      headers: { range: "bytes=2-5" },
      status: 206,
      body: "2345",
      contentRange: "bytes 2-5/36",
    },
    {
      name: "open-ended bytes=30-",
      headers: { range: "bytes=30-" },
      status: 206,
      body: "uvwxyz",
      contentRange: "bytes 30-35/36",
    },
    {
      name: "last byte past the end is clamped (§14.1.2)",
      headers: { range: "bytes=34-100" },
      status: 206,
      body: "yz",
      contentRange: "bytes 34-35/36",
    },
    {
      name: "suffix bytes=-3",
      headers: { range: "bytes=-3" },
      status: 206,
      body: "xyz",
      contentRange: "bytes 33-35/36",
    },
    {
      name: "If-Range with the strong ETag",
      headers: { range: "bytes=0-1", "if-range": '"r1"' },
      status: 206,
      body: "01",
      contentRange: "bytes 0-1/36",
    },
    {
      name: "If-Range with the Last-Modified date",
      headers: { range: "bytes=0-1", "if-range": LAST_MODIFIED },
      status: 206,
      body: "01",
      contentRange: "bytes 0-1/36",
    },
    {
      name: "If-Range with another ETag → 200 full (§13.1.5)",
      headers: { range: "bytes=0-1", "if-range": '"other"' },
      status: 200,
      body: BODY,
    },
    {
      name: "If-Range with a weak ETag → 200 full (§13.1.5: strong comparison)",
      headers: { range: "bytes=0-1", "if-range": 'W/"r1"' },
      status: 200,
      body: BODY,
    },
    {
      name: "several ranges → 200 full (§14.2: a server may ignore Range)",
      headers: { range: "bytes=0-1,4-5" },
      status: 200,
      body: BODY,
    },
    {
      name: "another unit → 200 full",
      headers: { range: "items=0-1" },
      status: 200,
      body: BODY,
    },
  ];

  it.each(cases)("$name → $status", async (c) => {
    const { origin, t } = await h.start(sequence(STORED));
    await fill(t, "/r");
    const res = await t.request("/r", { headers: c.headers });
    expect(res.status).toBe(c.status);
    expect(await res.text()).toBe(c.body);
    expect(res.headers.get("content-length")).toBe(String(c.body.length));
    expect(res.headers.get("content-range")).toBe(c.contentRange ?? null);
    expect(res.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(origin.count()).toBe(1);
  });

  it.each(["bytes=36-", "bytes=100-200", "bytes=-0"])(
    "unsatisfiable %s → 416 with Content-Range bytes */36 (§15.5.17)",
    async (range) => {
      const { origin, t } = await h.start(sequence(STORED));
      await fill(t, "/r");
      const res = await t.request("/r", { headers: { range } });
      expect(res.status).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */36");
      expect(await res.text()).toBe("");
      expect(origin.count()).toBe(1);
    },
  );

  it("a range request that misses fetches the whole response (no Range to the origin) and stores it", async () => {
    const { origin, t } = await h.start(sequence(STORED));
    const res = await t.request("/r", { headers: { range: "bytes=0-3" } });
    // The fill fetches the whole representation; the client gets its part of it.
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 0-3/36");
    expect(await res.text()).toBe("0123");
    await t.shield.drain();
    expect(origin.requests[0]?.headers.range).toBeUndefined();

    const again = await t.request("/r", { headers: { range: "bytes=0-3" } });
    expect(again.status).toBe(206);
    expect(await again.text()).toBe("0123");
    expect(origin.count()).toBe(1);
  });

  it("a range over a real socket: 206 with the exact bytes", async () => {
    const { t } = await h.start(sequence(STORED));
    const base = await t.listen();
    await (await fetch(`${base}/r`)).text();
    await t.shield.drain();
    const res = await fetch(`${base}/r`, { headers: { range: "bytes=10-15" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 10-15/36");
    expect(await res.text()).toBe("abcdef");
  });

  it("advertises Accept-Ranges: bytes on stored full responses", async () => {
    const { t } = await h.start(sequence(STORED));
    await fill(t, "/r");
    const res = await t.request("/r");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
  });
});
