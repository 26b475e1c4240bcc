/**
 * Image transforms at the shield (/img/<options>/<path>), end to end through the app
 * factory: a variant is made from its source (fetched through the shield's own cache),
 * cached under its resolved options, collapsed, negotiated, revalidated from its source
 * without running sharp again, purged with its source, and served like any object.
 * Errors, bounds, the queue and signing: images-errors.test.ts.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { photoJpeg } from "../helpers/images.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";
import { decoded, get, imageOrigin, type Served, transforms, width } from "./images-support.ts";
import { fill, harness } from "./support.ts";

const h = harness();

let photo: Buffer; // 1600×1200
let small: Buffer; // 400×300
let smallB: Buffer; // 400×200, other content

beforeAll(async () => {
  small = await photoJpeg({ width: 400, height: 300 });
  smallB = await photoJpeg({ width: 400, height: 200, seed: 99 });
  photo = await sharp(small).resize(1600, 1200).jpeg({ quality: 85 }).toBuffer();
});

describe("a variant at the shield", () => {
  it("is made from the source fetched once without cookies, cached, and carries the source's caching headers", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: photo } }));
    const url = "/img/width=800,format=webp/photos/a.jpg";
    const first = await get(t, url, { headers: { cookie: "session=secret; theme=dark" } });
    expect(first.status).toBe(200);
    expect(first.res.headers.get("content-type")).toBe("image/webp");
    expect(await decoded(first.body)).toEqual({ format: "webp", width: 800, height: 600 });
    const etag = first.res.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(first.res.headers.get("cache-control")).toBe("public, max-age=600");
    expect(first.res.headers.get("vary")).toBeNull();
    expect(first.cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    await t.shield.drain();

    const second = await get(t, url);
    expect(second.status).toBe(200);
    expect(second.cs).toMatch(/^shield; hit/);
    expect(second.body.equals(first.body)).toBe(true);
    expect(second.res.headers.get("etag")).toBe(etag);

    expect(origin.count()).toBe(1);
    expect(origin.requests[0]?.url).toBe("/photos/a.jpg");
    expect(origin.requests[0]?.headers.cookie).toBeUndefined();
    expect(await transforms(t)).toBe(1);
  });

  it("widths are made as asked (images.widthPolicy exact, the default)", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: photo } }));
    const a = await get(t, "/img/width=320,format=webp/photos/a.jpg");
    expect(await width(a.body)).toBe(320);
    const b = await get(t, "/img/width=801,format=webp/photos/a.jpg");
    expect(await width(b.body)).toBe(801);
    expect(await transforms(t)).toBe(2);
  });

  it("with widthPolicy round-up, width=801 and width=960 resolve to one variant (one transform, one entry)", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: photo } }), {
      images: { widthPolicy: "round-up" },
    });
    const a = await fill(t, "/img/width=801,format=webp/photos/a.jpg");
    expect(a.res.status).toBe(200);
    const b = await get(t, "/img/format=webp,w=960/photos/a.jpg");
    expect(b.cs).toMatch(/^shield; hit/);
    expect(await width(b.body)).toBe(960);
    expect(await transforms(t)).toBe(1);
  });
});

describe("sources with a query string", () => {
  it("are distinct sources: each query's variant is made from its own image", async () => {
    const { origin, t } = await h.start((req, res) => {
      const v = new URL(req.url ?? "/", "http://o").searchParams.get("v");
      res.writeHead(200, { "content-type": "image/jpeg", "cache-control": "public, max-age=600" });
      res.end(v === "2" ? smallB : small);
    });
    const one = await get(t, "/img/width=200,format=webp/photos/a.jpg?v=1");
    const two = await get(t, "/img/width=200,format=webp/photos/a.jpg?v=2");
    expect(await decoded(one.body)).toMatchObject({ width: 200, height: 150 });
    expect(await decoded(two.body)).toMatchObject({ width: 200, height: 100 });
    await t.shield.drain();
    expect((await get(t, "/img/width=200,format=webp/photos/a.jpg?v=1")).cs).toMatch(
      /^shield; hit/,
    );
    expect(origin.requests.map((r) => r.url)).toEqual(["/photos/a.jpg?v=1", "/photos/a.jpg?v=2"]);
    expect(two.res.headers.get("etag")).not.toBe(one.res.headers.get("etag"));
  });
});

describe("collapsing", () => {
  it("50 identical concurrent requests share one source fetch and one transform", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }, 200));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const all = await Promise.all(Array.from({ length: 50 }, () => get(t, url)));
    for (const r of all) {
      expect(r.status).toBe(200);
      expect(r.body.equals(all[0]?.body as Buffer)).toBe(true);
    }
    expect(await width(all[0]?.body as Buffer)).toBe(200);
    expect(all.filter((r) => r.cs.includes("collapsed")).length).toBe(49);
    expect(origin.count()).toBe(1);
    expect(await transforms(t)).toBe(1);
  });

  it("two different variants of one source made at once share one source fetch", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }, 200));
    const [a, b] = await Promise.all([
      get(t, "/img/width=200,format=webp/photos/a.jpg"),
      get(t, "/img/width=160,format=png/photos/a.jpg"),
    ]);
    expect(await decoded(a?.body as Buffer)).toEqual({ format: "webp", width: 200, height: 150 });
    expect(await decoded(b?.body as Buffer)).toEqual({ format: "png", width: 160, height: 120 });
    expect(origin.count()).toBe(1);
    expect(await transforms(t)).toBe(2);
  });
});

describe("format=auto", () => {
  const url = "/img/width=200,format=auto/photos/a.jpg";

  it("picks AVIF, WebP or the original from Accept, says Vary: Accept, and keeps them apart", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }));
    const cases = [
      { accept: "image/avif,image/webp,*/*", type: "image/avif", format: "heif" },
      { accept: "image/webp,*/*", type: "image/webp", format: "webp" },
      { accept: "*/*", type: "image/jpeg", format: "jpeg" },
    ];
    for (const round of ["miss", "hit"]) {
      for (const c of cases) {
        const r = await get(t, url, { headers: { accept: c.accept } });
        await t.shield.drain();
        expect(r.status).toBe(200);
        expect(r.res.headers.get("content-type")).toBe(c.type);
        expect(r.res.headers.get("vary")?.toLowerCase()).toContain("accept");
        expect((await decoded(r.body)).format).toBe(c.format);
        if (round === "hit") expect(r.cs).toMatch(/^shield; hit/);
      }
    }
    expect(await transforms(t)).toBe(3);
    expect(origin.count()).toBe(1);
  });

  it("a concrete format shares the negotiated variant but does not say Vary: Accept", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }));
    await fill(t, url, { headers: { accept: "image/webp,*/*" } });
    const r = await get(t, "/img/width=200,format=webp/photos/a.jpg", {
      headers: { accept: "*/*" },
    });
    expect(r.res.headers.get("content-type")).toBe("image/webp");
    expect(r.cs).toMatch(/^shield; hit/);
    expect(r.res.headers.get("vary")).toBeNull();
  });
});

describe("freshness derived from the source", () => {
  it("a stale variant revalidates its source; a 304 from the origin means no new transform", async () => {
    const files = {
      "/photos/a.jpg": { body: small, cacheControl: "public, max-age=60", etag: '"v1"' },
    };
    const { origin, t } = await h.start(imageOrigin(files));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const first = await fill(t, url);
    const etag = first.res.headers.get("etag");
    expect(first.res.headers.get("cache-control")).toBe("public, max-age=60");

    t.advance(61_000);
    const again = await get(t, url);
    expect(again.status).toBe(200);
    expect(again.res.headers.get("etag")).toBe(etag);
    expect(again.cs).toBe("shield; fwd=stale; fwd-status=304; stored");
    expect(await decoded(again.body)).toEqual({ format: "webp", width: 200, height: 150 });
    expect(origin.count()).toBe(2);
    expect(origin.requests[1]?.url).toBe("/photos/a.jpg");
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"v1"');
    expect(await transforms(t, "ok")).toBe(1);
    expect(await transforms(t, "not_modified")).toBe(1);
    // Fresh again for another 60 s.
    expect((await get(t, url)).cs).toMatch(/^shield; hit/);

    // The image changes at the origin: the variant is made again, with a new ETag.
    files["/photos/a.jpg"] = { body: smallB, cacheControl: "public, max-age=60", etag: '"v2"' };
    t.advance(61_000);
    const changed = await get(t, url);
    expect(changed.status).toBe(200);
    expect(changed.res.headers.get("etag")).toMatch(/^"[^"]+"$/);
    expect(changed.res.headers.get("etag")).not.toBe(etag);
    expect(await decoded(changed.body)).toEqual({ format: "webp", width: 200, height: 100 });
    expect(await transforms(t, "ok")).toBe(2);
    expect(origin.count()).toBe(3);
  });

  it("a variant made late in its cached source's life expires with the source", async () => {
    const files = { "/photos/a.jpg": { body: small, cacheControl: "public, max-age=60" } };
    const { origin, t } = await h.start(imageOrigin(files));
    await fill(t, "/img/width=200,format=webp/photos/a.jpg");
    t.advance(50_000);
    const late = await fill(t, "/img/width=300,format=webp/photos/a.jpg");
    expect(late.res.status).toBe(200);
    expect(origin.count()).toBe(1);
    t.advance(5_000);
    expect((await get(t, "/img/width=300,format=webp/photos/a.jpg")).cs).toMatch(/^shield; hit/);
    // 61 s after the source was fetched, not 61 s after this variant was made.
    t.advance(6_000);
    const stale = await get(t, "/img/width=300,format=webp/photos/a.jpg");
    expect(stale.status).toBe(200);
    expect(stale.cs).toMatch(/^shield; fwd=stale/);
    expect(origin.count()).toBe(2);
  });

  it("with a TTL rule on the source's path, a variant made late still expires with the source", async () => {
    const files = { "/photos/a.jpg": { body: small, cacheControl: "public, max-age=10" } };
    const { origin, t } = await h.start(imageOrigin(files), {
      rules: [{ match: { path: "/photos/**" }, ttl: { set: 100 } }],
    });
    await fill(t, "/img/width=200,format=webp/photos/a.jpg");
    t.advance(90_000);
    const late = "/img/width=300,format=webp/photos/a.jpg";
    expect((await fill(t, late)).res.status).toBe(200);
    expect(origin.count()).toBe(1);
    t.advance(5_000);
    expect((await get(t, late)).cs).toMatch(/^shield; hit/);
    // 105 s after the source arrived: the source is stale by the rule, so is the variant.
    t.advance(10_000);
    expect((await get(t, late)).cs).toMatch(/^shield; fwd=stale/);
    expect(origin.count()).toBe(2);
  });

  it("a rule that stores the source by its content type stores its variants too", async () => {
    // No lifetime from the origin; the rule (image/jpeg) gives the source one. A variant
    // is image/webp, which the rule does not name: it follows its source.
    const files = { "/photos/a.jpg": { body: small, cacheControl: "public" } };
    const { t } = await h.start(imageOrigin(files), {
      rules: [{ match: { contentType: ["image/jpeg"] }, ttl: { set: 100 } }],
    });
    const url = "/img/width=200,format=webp/photos/a.jpg";
    expect((await fill(t, url)).res.headers.get("cache-status")).toBe(
      "shield; fwd=uri-miss; fwd-status=200; stored",
    );
    t.advance(50_000);
    expect((await get(t, url)).cs).toMatch(/^shield; hit/);
    expect(await transforms(t)).toBe(1);
  });

  it("a source too large for the memory tier is not kept, but its variants are", async () => {
    expect(small.length).toBeGreaterThan(10_000);
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }), {
      shield: { memory: { maxObjectBytes: 10_000 } },
    });
    const url = "/img/width=200,format=webp/photos/a.jpg";
    expect((await fill(t, url)).res.headers.get("cache-status")).toBe(
      "shield; fwd=uri-miss; fwd-status=200; stored",
    );
    expect((await get(t, url)).cs).toMatch(/^shield; hit/);
    // The source itself went through unstored: a second variant fetches it again.
    await fill(t, "/img/width=300,format=webp/photos/a.jpg");
    expect(origin.count()).toBe(2);
    expect(await transforms(t)).toBe(2);
  });

  it.each<{ why: string; headers: Record<string, string> }>([
    { why: "Set-Cookie", headers: { "set-cookie": "session=abc" } },
    { why: "Vary: *", headers: { vary: "*" } },
  ])("a source the shield does not store ($why): its variants are not stored either", async (c) => {
    const files = { "/photos/a.jpg": { body: small, headers: c.headers } };
    const { t } = await h.start(imageOrigin(files));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    for (let i = 0; i < 2; i++) {
      const r = await fill(t, url);
      expect(r.res.status).toBe(200);
      expect(r.res.headers.get("cache-status")).toBe(
        "shield; fwd=uri-miss; fwd-status=200; detail=source-not-stored",
      );
      expect(r.res.headers.get("set-cookie")).toBeNull();
    }
    expect(await transforms(t)).toBe(2);
  });

  it("an origin without validators that sends the same bytes again: no new transform", async () => {
    const files = { "/photos/a.jpg": { body: small, cacheControl: "public, max-age=60" } };
    const { origin, t } = await h.start(imageOrigin(files));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const etag = (await fill(t, url)).res.headers.get("etag");
    t.advance(61_000);
    const again = await get(t, url);
    expect(again.status).toBe(200);
    expect(again.res.headers.get("etag")).toBe(etag);
    expect(again.cs).toBe("shield; fwd=stale; fwd-status=304; stored");
    expect(await decoded(again.body)).toEqual({ format: "webp", width: 200, height: 150 });
    expect(origin.count()).toBe(2);
    expect(await transforms(t, "ok")).toBe(1);
    expect(await transforms(t, "not_modified")).toBe(1);
  });

  it("answers a client's If-None-Match with the variant's ETag with 304", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const etag = (await fill(t, url)).res.headers.get("etag") ?? "";
    const r = await get(t, url, { headers: { "if-none-match": etag } });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(r.res.headers.get("etag")).toBe(etag);
    const other = await get(t, url, { headers: { "if-none-match": '"something-else"' } });
    expect(other.status).toBe(200);
    expect(other.body.length).toBeGreaterThan(0);
  });
});

describe("the variant's ETag", () => {
  it("is the same on another shield node, which answers the conditional with 304 and stores the variant", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const etag = (await fill(t, url)).res.headers.get("etag") ?? "";
    const other = testShield(origin.url);
    try {
      const r = await get(other, url, { headers: { "if-none-match": etag } });
      expect(r.status).toBe(304);
      expect(r.res.headers.get("etag")).toBe(etag);
      await other.shield.drain();
      const hit = await get(other, url);
      expect(hit.cs).toMatch(/^shield; hit/);
      expect(hit.res.headers.get("etag")).toBe(etag);
      expect(await decoded(hit.body)).toEqual({ format: "webp", width: 200, height: 150 });
    } finally {
      await other.close();
    }
  });
});

describe("HEAD and Range on a variant", () => {
  it("HEAD answers the headers without a body, cold and cached", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    for (const expected of [/^shield; fwd=uri-miss/, /^shield; hit/]) {
      const res = await t.request(url, { method: "HEAD" });
      await t.shield.drain();
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/webp");
      expect(res.headers.get("cache-status")).toMatch(expected);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    }
    const full = await get(t, url);
    expect(full.res.headers.get("content-length")).toBe(String(full.body.length));
  });

  it("Range bytes=0-99 on a cached variant is a 206 with those bytes", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }));
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const full = await get(t, url);
    await t.shield.drain();
    const part = await get(t, url, { headers: { range: "bytes=0-99" } });
    expect(part.status).toBe(206);
    expect(part.res.headers.get("content-range")).toBe(`bytes 0-99/${full.body.length}`);
    expect(part.body.equals(full.body.subarray(0, 100))).toBe(true);
  });
});

describe("purge", () => {
  const TOKEN = "purge-token-0123456789";

  function purge(t: TestShield, body: unknown): Promise<Response> {
    return t.request("/__shield/purge", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  it.each([
    { by: "the source's URL", body: { urls: ["http://example.com/photos/a.jpg"] } },
    { by: "a tag the origin sent", body: { tags: ["gallery"] } },
    { by: "a prefix of the source", body: { prefixes: ["http://example.com/photos/"] } },
  ])("by $by removes its variants too", async (c) => {
    const files = { "/photos/a.jpg": { body: small, headers: { "surrogate-key": "gallery" } } };
    const { origin, t } = await h.start(imageOrigin(files), { shield: { purgeToken: TOKEN } });
    const url = "/img/width=200,format=webp/photos/a.jpg";
    await fill(t, url);
    expect((await get(t, url)).cs).toMatch(/^shield; hit/);
    const res = await purge(t, c.body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ purged: alone(2), soft: false });
    const after = await get(t, url);
    expect(after.status).toBe(200);
    expect(after.cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(origin.count()).toBe(2);
    expect(await transforms(t)).toBe(2);
  });

  it("by a transform URL, however its options are spelt, removes that variant only", async () => {
    const files = { "/photos/a.jpg": { body: small } };
    const { t } = await h.start(imageOrigin(files), { shield: { purgeToken: TOKEN } });
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const auto = "/img/width=300,format=auto/photos/a.jpg";
    const accept = { headers: { accept: "image/avif,image/webp,*/*" } };
    await fill(t, url);
    await fill(t, auto, accept);
    const res = await purge(t, { urls: ["http://example.com/img/f=webp,w=200/photos/a.jpg"] });
    expect(await res.json()).toEqual({ purged: alone(1), soft: false });
    expect((await get(t, url)).cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    // The source and the other variant are still there.
    expect((await get(t, "/photos/a.jpg")).cs).toMatch(/^shield; hit/);
    expect((await get(t, auto, accept)).cs).toMatch(/^shield; hit/);
    // A format=auto URL purges what it was negotiated to.
    const again = await purge(t, { urls: [`http://example.com${auto}`] });
    expect(await again.json()).toEqual({ purged: alone(1), soft: false });
    expect((await get(t, auto, accept)).cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
  });

  it("a soft purge of the source makes its variant revalidate, without a new transform", async () => {
    const files = { "/photos/a.jpg": { body: small, etag: '"v1"' } };
    const { origin, t } = await h.start(imageOrigin(files), { shield: { purgeToken: TOKEN } });
    const url = "/img/width=200,format=webp/photos/a.jpg";
    await fill(t, url);
    const res = await purge(t, { urls: ["http://example.com/photos/a.jpg"], soft: true });
    expect(await res.json()).toEqual({ purged: alone(2), soft: true });
    const after = await get(t, url);
    expect(after.status).toBe(200);
    expect(after.cs).toBe("shield; fwd=stale; fwd-status=304; stored");
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"v1"');
    expect(await transforms(t, "ok")).toBe(1);
    expect(await transforms(t, "not_modified")).toBe(1);
  });
  it("after a soft purge of a changed source with stale-while-revalidate, the variant shows the new image", async () => {
    const files: Record<string, Served> = {
      "/photos/a.jpg": {
        body: small,
        etag: '"v1"',
        cacheControl: "public, max-age=600, stale-while-revalidate=600",
      },
    };
    const { t } = await h.start(imageOrigin(files), { shield: { purgeToken: TOKEN } });
    const url = "/img/width=200,format=webp/photos/a.jpg";
    expect(await decoded((await get(t, url)).body)).toMatchObject({ width: 200, height: 150 });
    files["/photos/a.jpg"] = { ...files["/photos/a.jpg"], body: smallB, etag: '"v2"' } as Served;
    await purge(t, { urls: ["http://example.com/photos/a.jpg"], soft: true });
    // The first request after the purge may be answered stale while the variant
    // refreshes in the background; that refresh must not reuse the stale source.
    let seen = await decoded((await get(t, url)).body);
    for (let i = 0; i < 100 && seen.height !== 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      seen = await decoded((await get(t, url)).body);
    }
    expect(seen).toMatchObject({ width: 200, height: 100 });
  });
});

/** What a purge reports on a node alone: no Redis, no other node, no edge zone. */
function alone(local: number) {
  return { local, nodes: null, redis: null, edge: "off" };
}
