/**
 * Ranges of an object too large to store whole (RFC 9110 §14, RFC 9111 §3.4): after one
 * whole transfer, a range is served from aligned slices the shield asks the origin for
 * with Range and stores one by one; parts are combined only when every one carries the
 * same strong ETag and complete length; a purge of the URL takes the slices too.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { fill, harness } from "./support.ts";

const h = harness();
const SLICE = 64 * 1024; // the memory tier's maxObjectBytes below: slices of 64 KiB
const SIZE = 300_000; // too large for it: 5 slices, the last one short
const BIG = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) BIG[i] = 33 + ((i * 7) % 90);
const TOKEN = "purge-token-0123456789";
const CONFIG = {
  shield: {
    memory: { maxBytes: 8 * 1024 * 1024, maxObjectBytes: SLICE },
    purgeToken: TOKEN,
  },
};

interface Behaviour {
  etag?: string;
  /** Answer Range requests with 206 (else the whole 200). */
  ranges?: boolean;
  /** Content-Range to send instead of the right one. */
  lie?: string;
}

/** An origin serving BIG, honouring single ranges as a server would. */
function serving(b: () => Behaviour) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const { etag = '"big-1"', ranges = true, lie } = b();
    const base = { "cache-control": "max-age=600", etag, "content-type": "video/mp4" };
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (m !== null && ranges) {
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]), SIZE - 1);
      res.writeHead(206, {
        ...base,
        "content-range": lie ?? `bytes ${start}-${end}/${SIZE}`,
        "content-length": String(end - start + 1),
      });
      res.end(BIG.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...base, "content-length": String(SIZE) });
    res.end(BIG);
  };
}

const part = (a: number, b: number) => BIG.subarray(a, b + 1).toString("latin1");

async function range(t: Parameters<typeof fill>[0], spec: string) {
  const res = await t.request("/v.mp4", { headers: { range: spec } });
  const body = Buffer.from(await res.arrayBuffer()).toString("latin1");
  return { res, body };
}

describe("ranges of an object too large to store (RFC 9110 §14.2)", () => {
  it("after the whole transfer, a range is made of the slices that cover it, asked with Range and then stored", async () => {
    let behaviour: Behaviour = {};
    const { origin, t } = await h.start(
      serving(() => behaviour),
      CONFIG,
    );
    const whole = await fill(t, "/v.mp4");
    expect(whole.res.headers.get("cache-status")).toContain("detail=too-large");
    expect(whole.body.length).toBe(SIZE);

    const first = await range(t, "bytes=100000-140000");
    expect(first.res.status).toBe(206);
    expect(first.res.headers.get("content-range")).toBe(`bytes 100000-140000/${SIZE}`);
    expect(first.res.headers.get("content-length")).toBe("40001");
    expect(first.body).toBe(part(100000, 140000));
    await t.shield.drain();
    // Slices 1 and 2 (65536–131071, 131072–196607), each asked once.
    expect(origin.requests.slice(1).map((r) => r.headers.range)).toEqual([
      "bytes=65536-131071",
      "bytes=131072-196607",
    ]);

    // Any range inside stored slices is served without the origin.
    const again = await range(t, "bytes=70000-190000");
    expect(again.res.status).toBe(206);
    expect(again.body).toBe(part(70000, 190000));
    expect(again.res.headers.get("cache-status")).toMatch(/^shield; hit/);
    expect(origin.count()).toBe(3);

    // The last, short slice, and a suffix range.
    const tail = await range(t, "bytes=-10");
    expect(tail.body).toBe(part(SIZE - 10, SIZE - 1));
    expect(origin.requests.at(-1)?.headers.range).toBe(`bytes=262144-${SIZE - 1}`);
    behaviour = {};
  });

  it("a herd of 20 range requests inside one cold slice: the slice is asked of the origin once", async () => {
    const { origin, t } = await h.start(
      serving(() => ({})),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => range(t, `bytes=${i * 1000}-${i * 1000 + 99}`)),
    );
    answers.forEach((r, i) => {
      expect(r.res.status).toBe(206);
      expect(r.body).toBe(part(i * 1000, i * 1000 + 99));
    });
    expect(origin.requests.map((q) => q.headers.range ?? "whole")).toEqual([
      "whole",
      "bytes=0-65535",
    ]);
  });

  it("an origin that ignores Range: each slice is cut from its whole response, and stored", async () => {
    const { origin, t } = await h.start(
      serving(() => ({ ranges: false })),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    const r = await range(t, "bytes=10-20");
    expect(r.res.status).toBe(206);
    expect(r.body).toBe(part(10, 20));
    await t.shield.drain();
    const again = await range(t, "bytes=30-40");
    expect(again.body).toBe(part(30, 40));
    expect(origin.count()).toBe(2);
  });

  it("§3.4: a slice with another ETag is never combined: the request fetches the whole object instead", async () => {
    let etag = '"big-1"';
    const { origin, t } = await h.start(
      serving(() => ({ etag })),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    etag = '"big-2"'; // the object changed at the origin
    const r = await range(t, "bytes=10-20");
    expect(r.res.status).toBe(206);
    expect(r.body).toBe(part(10, 20));
    await t.shield.drain();
    // The slice was asked for, refused, and the whole fetched (and remembered anew).
    expect(origin.requests.map((q) => q.headers.range ?? "whole")).toEqual([
      "whole",
      "bytes=0-65535",
      "whole",
    ]);
  });

  it("a later slice with another ETag cuts the transfer: never a part made of two objects", async () => {
    let etag = '"big-1"';
    const { t } = await h.start(
      serving(() => ({ etag })),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    await range(t, "bytes=0-10"); // slice 0 stored under big-1
    await t.shield.drain();
    etag = '"big-2"';
    const res = await t.request("/v.mp4", { headers: { range: "bytes=60000-70000" } });
    expect(res.status).toBe(206);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it("a 206 whose Content-Range is not the slice asked for is refused, never stored or served", async () => {
    const { origin, t } = await h.start(
      serving(() => ({ lie: `bytes 5-65540/${SIZE}` })),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    const r = await range(t, "bytes=10-20");
    // The slice failed: the request fell back to the whole object.
    expect(r.res.status).toBe(206);
    expect(r.body).toBe(part(10, 20));
    await t.shield.drain();
    const again = await range(t, "bytes=10-20");
    expect(again.body).toBe(part(10, 20));
    // Nothing of the refused 206 was stored: no answer came from a stored slice.
    expect(again.res.headers.get("cache-status")).not.toMatch(/^shield; hit/);
    // At most one slice asked per range request, then the whole.
    expect(origin.requests.map((q) => q.headers.range ?? "whole")).toEqual([
      "whole",
      "bytes=0-65535",
      "whole",
      "bytes=0-65535",
      "whole",
    ]);
  });

  it("a purge of the URL takes its slices with it", async () => {
    const { origin, t } = await h.start(
      serving(() => ({})),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    await range(t, "bytes=0-10");
    await t.shield.drain();
    const before = origin.count();
    const purged = await t.request("/__shield/purge", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ urls: ["http://example.com/v.mp4"] }),
    });
    expect(purged.status).toBe(200);
    const after = await range(t, "bytes=0-10");
    expect(after.body).toBe(part(0, 10));
    expect(after.res.headers.get("cache-status")).not.toMatch(/^shield; hit/);
    expect(origin.count()).toBeGreaterThan(before);
  });

  it("several ranges, or an If-Range that does not match, take the ordinary path (the whole 200)", async () => {
    const { t } = await h.start(
      serving(() => ({})),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    const several = await range(t, "bytes=0-1,5-6");
    expect(several.res.status).toBe(200);
    expect(several.body.length).toBe(SIZE);
    const res = await t.request("/v.mp4", {
      headers: { range: "bytes=0-1", "if-range": '"other"' },
    });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(SIZE);
  });

  it("past the end: 416 with the remembered length", async () => {
    const { t } = await h.start(
      serving(() => ({})),
      CONFIG,
    );
    await fill(t, "/v.mp4");
    const r = await range(t, `bytes=${SIZE}-`);
    expect(r.res.status).toBe(416);
    expect(r.res.headers.get("content-range")).toBe(`bytes */${SIZE}`);
  });

  it("slices are asked with Accept-Encoding: identity, so an origin that compresses parts still gives bytes that combine", async () => {
    const base = serving(() => ({}));
    const { origin, t } = await h.start((req, res) => {
      // An origin that compresses whatever a client says it takes, ranges included.
      if (req.headers.range !== undefined && /gzip|br/.test(req.headers["accept-encoding"] ?? "")) {
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range) as RegExpExecArray;
        const start = Number(m[1]);
        const end = Math.min(Number(m[2]), SIZE - 1);
        const coded = gzipSync(BIG.subarray(start, end + 1));
        res.writeHead(206, {
          "cache-control": "max-age=600",
          etag: '"big-1"',
          "content-type": "video/mp4",
          "content-encoding": "gzip",
          "content-range": `bytes ${start}-${end}/${SIZE}`,
          "content-length": String(coded.length),
        });
        res.end(coded);
        return;
      }
      base(req, res);
    }, CONFIG);
    await fill(t, "/v.mp4");
    const res = await t.request("/v.mp4", {
      headers: { range: "bytes=1000-1999", "accept-encoding": "gzip, deflate, br" },
    });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).toString("latin1")).toBe(part(1000, 1999));
    // One slice asked, as identity: no fallback to a second whole transfer.
    const asked = origin.requests.slice(1);
    expect(asked.map((q) => [q.headers.range, q.headers["accept-encoding"]])).toEqual([
      ["bytes=0-65535", "identity"],
    ]);
  });
});
