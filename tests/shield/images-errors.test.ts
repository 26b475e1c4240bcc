/**
 * Image transforms at the shield when something is wrong: bad options, bad or hostile
 * sources, a failing origin, the bounds (variants per source, widths, output size), the
 * transform queue, and signed URLs. Every refusal is a JSON body with a stable code and
 * a 4xx/5xx that says whose fault it is, never a 500, and the shield keeps working.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { parseTransformPath } from "../../core/variant/index.ts";
import { signTransform } from "../../image-pipeline/signing.ts";
import { photoJpeg, pngBomb } from "../helpers/images.ts";
import { decoded, get, imageOrigin, type Served, transforms, width } from "./images-support.ts";
import { fill, harness } from "./support.ts";

const h = harness();

/** The JSON error body, checked for its shape: {error, option?, message}. */
function errorOf(body: Buffer): { error: string; option?: string; message: string } {
  const json = JSON.parse(body.toString()) as Record<string, unknown>;
  expect(Object.keys(json).sort()).toEqual(
    "option" in json ? ["error", "message", "option"] : ["error", "message"],
  );
  expect(typeof json.message).toBe("string");
  expect((json.message as string).length).toBeGreaterThan(0);
  return json as { error: string; option?: string; message: string };
}

let small: Buffer; // 400×300 JPEG, over 10 000 bytes
let wide: Buffer; // 2000×1000 JPEG
let bomb: Buffer; // a valid 1×1 PNG whose header says 40000×40000

beforeAll(async () => {
  small = await photoJpeg({ width: 400, height: 300 });
  wide = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: "#369" } })
    .jpeg()
    .toBuffer();
  bomb = await pngBomb(40_000);
});

describe("errors", () => {
  const GOOD = "/img/width=200,format=webp/photos/ok.jpg";
  const files = (): Record<string, Served> => ({
    "/photos/ok.jpg": { body: small },
    "/photos/page.jpg": {
      body: Buffer.from("<!doctype html><title>hi</title>"),
      type: "text/html",
    },
    "/photos/cut.jpg": { body: small.subarray(0, Math.floor(small.length / 2)) },
    "/photos/bomb.png": { body: bomb, type: "image/png" },
    "/photos/down.jpg": { body: Buffer.from("down"), type: "text/plain", status: 503 },
    "/photos/moved.jpg": {
      body: Buffer.from("moved"),
      type: "text/plain",
      status: 301,
      headers: { location: "/photos/ok.jpg" },
    },
    "/photos/empty.jpg": { body: Buffer.alloc(0), status: 204 },
  });

  it.each([
    {
      name: "an unknown option",
      path: "/img/foo=1/photos/ok.jpg",
      status: 400,
      error: "unknown_option",
      option: "foo",
    },
    {
      name: "a bad value",
      path: "/img/width=abc/photos/ok.jpg",
      status: 400,
      error: "invalid_option",
      option: "width",
    },
    {
      name: "an unsupported option",
      path: "/img/brightness=1.2/photos/ok.jpg",
      status: 400,
      error: "unsupported_option",
      option: "brightness",
    },
    {
      name: "a missing source",
      path: "/img/width=200/photos/none.jpg",
      status: 404,
      error: "source_error",
    },
    {
      name: "a source that fails (503)",
      path: "/img/width=200/photos/down.jpg",
      status: 502,
      error: "source_error",
    },
    {
      name: "a source that redirects (not followed)",
      path: "/img/width=200/photos/moved.jpg",
      status: 502,
      error: "source_error",
    },
    {
      name: "a source that answers 204",
      path: "/img/width=200/photos/empty.jpg",
      status: 502,
      error: "source_error",
    },
    {
      name: "a source that is HTML",
      path: "/img/width=200/photos/page.jpg",
      status: 415,
      error: "unsupported_image",
    },
    {
      name: "a truncated JPEG",
      path: "/img/width=200/photos/cut.jpg",
      status: 422,
      error: "corrupt_image",
    },
    {
      name: "a decompression bomb",
      path: "/img/width=200/photos/bomb.png",
      status: 413,
      error: "too_many_pixels",
    },
  ])("$name: $status $error, and the shield keeps working", async (c) => {
    const { t } = await h.start(imageOrigin(files()));
    const started = performance.now();
    const r = await get(t, c.path);
    // A bomb is refused from its header: no 6.4 GB decode.
    if (c.error === "too_many_pixels") expect(performance.now() - started).toBeLessThan(1_000);
    expect(r.status).toBe(c.status);
    expect(r.res.headers.get("content-type")).toMatch(/^application\/json/);
    const e = errorOf(r.body);
    expect(e.error).toBe(c.error);
    expect(e.option).toBe(c.option);
    // Refused before any fetch: the shield's Cache-Status member carries the code.
    if (c.status === 400) {
      expect(r.res.headers.get("cache-status")).toBe(`shield; detail=${c.error}`);
    }
    expect(await transforms(t)).toBe(0);
    const good = await get(t, GOOD);
    expect(good.status).toBe(200);
    expect(await width(good.body)).toBe(200);
  });

  it("POST is refused with 405 and Allow", async () => {
    const { origin, t } = await h.start(imageOrigin(files()));
    const r = await get(t, GOOD, { method: "POST", body: "x" });
    expect(r.status).toBe(405);
    expect(r.res.headers.get("allow")).toBe("GET, HEAD");
    expect(errorOf(r.body).error).toBe("method_not_allowed");
    expect(origin.count()).toBe(0);
  });

  it.each([
    { how: "with Content-Length", chunked: false },
    { how: "chunked", chunked: true },
  ])("a source over limits.maxInputBytes ($how) is 413 source_too_large", async (c) => {
    const { origin, t } = await h.start(
      imageOrigin({
        "/photos/ok.jpg": { body: small, chunked: c.chunked },
        "/photos/tiny.png": { body: bomb, type: "image/png", chunked: c.chunked },
      }),
      { images: { limits: { maxInputBytes: 10_000 } } },
    );
    expect(small.length).toBeGreaterThan(10_000);
    const r = await get(t, GOOD);
    expect(r.status).toBe(413);
    expect(errorOf(r.body).error).toBe("source_too_large");
    await t.shield.drain();
    // Another variant of it too (now from the cached source).
    const again = await get(t, "/img/width=100/photos/ok.jpg");
    expect(again.status).toBe(413);
    expect(errorOf(again.body).error).toBe("source_too_large");
    expect(await transforms(t, "source_too_large")).toBe(2);
    expect(await transforms(t)).toBe(0);
    expect(origin.count()).toBe(1);
    // A source under the limit is still read (and refused for its pixels, not its bytes).
    const other = await get(t, "/img/width=200/photos/tiny.png");
    expect(errorOf(other.body).error).toBe("too_many_pixels");
  });

  it("an unreachable origin is 502 with no stale copy; a cached source still makes new variants", async () => {
    const { origin, t } = await h.start(imageOrigin(files()));
    await fill(t, GOOD);
    await origin.close();
    // The source is cached: a new variant of it needs no origin.
    const fromCached = await get(t, "/img/width=100,format=webp/photos/ok.jpg");
    expect(fromCached.status).toBe(200);
    expect(await width(fromCached.body)).toBe(100);
    // An uncached source: 502, and nothing stored (it fails again, no cached error).
    for (let i = 0; i < 2; i++) {
      const r = await get(t, "/img/width=200,format=webp/photos/page.jpg");
      expect(r.status).toBe(502);
      expect(errorOf(r.body).error).toBe("origin_unreachable");
      expect(r.cs).toContain("detail=origin-connect");
    }
    // Once variant and source are stale (no stale-if-error), the stale copy is not served.
    t.advance(601_000);
    const stale = await get(t, GOOD);
    expect(stale.status).toBe(502);
    expect(errorOf(stale.body).error).toBe("origin_unreachable");
  });
});

describe("sources only on configured origins", () => {
  it.each([
    "/img/width=100//evil.example/a.jpg",
    "/img/width=100/http:/evil.example/a.jpg",
    "/img/width=100/%2F%2Fevil.example/a.jpg",
    "/img/width=100/../../evil.example/a.jpg",
    "/img/width=100/@evil.example/a.jpg",
  ])("%s reaches no host but the configured origin", async (path) => {
    const { origin, t } = await h.start(imageOrigin({}));
    const r = await get(t, path);
    // A 4xx: refused, or the configured origin's 404. A fetch of evil.example would
    // have failed to resolve and answered 502.
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    for (const seen of origin.requests) expect(seen.url.startsWith("/")).toBe(true);
  });
});

describe("stale-if-error", () => {
  it("an unreachable origin serves the stale variant when the source allows it", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, {
        "content-type": "image/jpeg",
        "cache-control": "public, max-age=60, stale-if-error=600",
      });
      res.end(small);
    });
    const url = "/img/width=200,format=webp/photos/a.jpg";
    const first = await fill(t, url);
    const body = Buffer.from(await (await t.request(url)).arrayBuffer());
    await origin.close();
    t.advance(120_000);
    const r = await get(t, url);
    expect(r.status).toBe(200);
    expect(r.res.headers.get("content-type")).toBe("image/webp");
    expect(r.res.headers.get("etag")).toBe(first.res.headers.get("etag"));
    expect(r.body.equals(body)).toBe(true);
    expect(await transforms(t)).toBe(1);
    // Said as what it is: a stale copy served because the origin failed, not a 304.
    expect(r.res.headers.get("cache-status")).toMatch(/detail=stale-if-error/);
    expect(r.res.headers.get("cache-status")).not.toMatch(/fwd-status=304/);
  });
});

describe("onerror=redirect (Cloudflare's option)", () => {
  const files = (): Record<string, Served> => ({
    "/photos/ok.jpg": { body: small },
    "/photos/cut.jpg": { body: small.subarray(0, Math.floor(small.length / 2)) },
    "/photos/page.jpg": { body: Buffer.from("<!doctype html>"), type: "text/html" },
  });

  it.each([
    ["a missing source", "/photos/none.jpg"],
    ["a truncated JPEG", "/photos/cut.jpg"],
    ["a source that is not an image", "/photos/page.jpg"],
  ])("%s: 302 to the source, never stored as the variant", async (_name, source) => {
    const { origin, t } = await h.start(imageOrigin(files()));
    const path = `/img/width=200,onerror=redirect${source}`;
    const first = await get(t, path);
    expect(first.status).toBe(302);
    expect(first.res.headers.get("location")).toBe(source);
    expect(first.res.headers.get("cache-control")).toBe("no-store");
    await t.shield.drain();
    const again = await get(t, path);
    expect(again.status).toBe(302);
    expect(again.cs).not.toMatch(/hit/);
    expect(origin.count()).toBeGreaterThanOrEqual(1);
  });

  it("without it the same failure is the JSON error, and a good source is transformed either way", async () => {
    const { t } = await h.start(imageOrigin(files()));
    const plain = await get(t, "/img/width=200/photos/none.jpg");
    expect([plain.status, errorOf(plain.body).error]).toEqual([404, "source_error"]);
    const good = await get(t, "/img/width=200,onerror=redirect,format=webp/photos/ok.jpg");
    expect(good.status).toBe(200);
    expect(await width(good.body)).toBe(200);
  });
});

describe("images.fallback", () => {
  it("a variant that cannot be made redirects to the placeholder, never stored; onerror=redirect still names the source", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/ok.jpg": { body: small } }), {
      images: { fallback: "/images/placeholder.png" },
    });
    for (let i = 0; i < 2; i++) {
      const r = await get(t, "/img/width=200/photos/none.jpg");
      expect([r.status, r.res.headers.get("location"), r.res.headers.get("cache-control")]).toEqual(
        [302, "/images/placeholder.png", "no-store"],
      );
      await t.shield.drain();
    }
    const own = await get(t, "/img/width=200,onerror=redirect/photos/none.jpg");
    expect(own.res.headers.get("location")).toBe("/photos/none.jpg");
    expect((await get(t, "/img/width=200,format=webp/photos/ok.jpg")).status).toBe(200);
  });
});

describe("bounds", () => {
  it("limits.maxVariantsPerSource: a new variant beyond it is 400; made ones and other sources are not", async () => {
    const { t } = await h.start(
      imageOrigin({ "/photos/a.jpg": { body: small }, "/photos/b.jpg": { body: small } }),
      { images: { limits: { maxVariantsPerSource: 2 } } },
    );
    expect((await fill(t, "/img/width=100/photos/a.jpg")).res.status).toBe(200);
    expect((await fill(t, "/img/width=200/photos/a.jpg")).res.status).toBe(200);
    const third = await get(t, "/img/width=300/photos/a.jpg");
    expect(third.status).toBe(400);
    expect(errorOf(third.body).error).toBe("too_many_variants");
    // A variant already made is still served (w=100, spelt another way).
    const made = await get(t, "/img/w=100/photos/a.jpg");
    expect(made.status).toBe(200);
    expect(await width(made.body)).toBe(100);
    const other = await get(t, "/img/width=300/photos/b.jpg");
    expect(other.status).toBe(200);
    expect(await width(other.body)).toBe(300);
  });

  it("a purge of the source starts its variant count again", async () => {
    const token = "purge-token-0123456789";
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }), {
      images: { limits: { maxVariantsPerSource: 2 } },
      shield: { purgeToken: token },
    });
    expect((await fill(t, "/img/width=100/photos/a.jpg")).res.status).toBe(200);
    expect((await fill(t, "/img/width=200/photos/a.jpg")).res.status).toBe(200);
    expect((await get(t, "/img/width=300/photos/a.jpg")).status).toBe(400);
    for (const soft of [false, true]) {
      const purged = await t.request("/__shield/purge", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ urls: ["http://example.com/photos/a.jpg"], soft }),
      });
      expect(purged.status).toBe(200);
      const w = soft ? 400 : 300;
      const next = await get(t, `/img/width=${w}/photos/a.jpg`);
      expect(next.status, `after a ${soft ? "soft" : "hard"} purge`).toBe(200);
      expect(await width(next.body)).toBe(w);
    }
  });

  it('widthPolicy "allow-list": a width that is not a step is 400 width_not_allowed', async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }), {
      images: { widthPolicy: "allow-list" },
    });
    const r = await get(t, "/img/width=301/photos/a.jpg");
    expect(r.status).toBe(400);
    expect(errorOf(r.body)).toMatchObject({ error: "width_not_allowed", option: "width" });
    const ok = await get(t, "/img/width=300/photos/a.jpg");
    expect(ok.status).toBe(200);
    expect(await width(ok.body)).toBe(300);
  });

  it("a huge width is clamped to limits.maxOutputWidth", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/wide.jpg": { body: wide } }), {
      images: { limits: { maxOutputWidth: 1000 } },
    });
    const r = await get(t, "/img/width=100000,fit=contain,format=png/photos/wide.jpg");
    expect(r.status).toBe(200);
    const m = await decoded(r.body);
    expect([m.width, m.height]).toEqual([1000, 500]);
  });
});

describe("the transform queue", () => {
  const one = { images: { limits: { concurrency: 1, maxQueue: 0 } } };

  it("with every slot taken and no queue, another variant gets 503 transform_busy, not cached", async () => {
    const { origin, t } = await h.start(
      imageOrigin({ "/photos/a.jpg": { body: small } }, 100),
      one,
    );
    // Both wait on one source fetch, so both reach the queue at once.
    const [a, b] = await Promise.all([
      get(t, "/img/width=300,format=avif/photos/a.jpg"),
      get(t, "/img/width=200,format=avif/photos/a.jpg"),
    ]);
    expect(a?.status).toBe(200);
    expect(b?.status).toBe(503);
    expect(b?.res.headers.get("retry-after")).toBe("1");
    expect(errorOf(b?.body as Buffer).error).toBe("transform_busy");
    expect(await transforms(t, "transform_busy")).toBe(1);
    await t.shield.drain();
    const later = await get(t, "/img/width=200,format=avif/photos/a.jpg");
    expect(later.status).toBe(200);
    expect(later.cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(await width(later.body)).toBe(200);
    expect(origin.count()).toBe(1);
  });

  it("a transform over limits.timeoutMs gets 503 transform_timeout, is not cached, and frees its slot", async () => {
    const big = await sharp(small).resize(1600, 1200).jpeg().toBuffer();
    const { t } = await h.start(imageOrigin({ "/photos/big.jpg": { body: big } }), {
      images: { limits: { timeoutMs: 1_000, concurrency: 1 } },
    });
    // Enlarged to 3840 px and blurred with the widest radius: seconds of libvips work,
    // which libvips itself stops at the limit.
    const slow = await get(t, "/img/width=3840,fit=contain,blur=250,format=webp/photos/big.jpg");
    expect(slow.status).toBe(503);
    expect(errorOf(slow.body).error).toBe("transform_timeout");
    expect(slow.res.headers.get("retry-after")).toBe("1");
    expect(slow.res.headers.get("cache-control")).toBe("no-store");
    expect(slow.cs).not.toMatch(/stored/);
    expect(await transforms(t, "transform_timeout")).toBe(1);
    // The one slot comes back once libvips has stopped: the next transform runs.
    const next = await get(t, "/img/width=160,format=webp/photos/big.jpg");
    expect(next.status).toBe(200);
    expect(await width(next.body)).toBe(160);
  });

  it("identical requests share one transform and take one place", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }, 100), one);
    const all = await Promise.all(
      Array.from({ length: 10 }, () => get(t, "/img/width=300,format=avif/photos/a.jpg")),
    );
    expect(all.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await transforms(t)).toBe(1);
    expect(await transforms(t, "transform_busy")).toBe(0);
  });
});

describe("signed URLs", () => {
  const SECRET = "a-signing-secret-of-32-characters!";
  const signing = { images: { signing: { secret: SECRET } } };

  function signed(path: string): string {
    const parsed = parseTransformPath(path, "/img/");
    if (!parsed.ok) throw new Error(parsed.message);
    const sig = signTransform("/img/", parsed.transform, "", SECRET);
    const slash = path.indexOf("/", "/img/".length);
    return `${path.slice(0, slash)},sig=${sig}${path.slice(slash)}`;
  }

  it("refuses an unsigned URL (403 missing_signature) and a wrong signature (403 bad_signature)", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }), signing);
    const missing = await get(t, "/img/width=200/photos/a.jpg");
    expect(missing.status).toBe(403);
    expect(errorOf(missing.body)).toMatchObject({ error: "missing_signature", option: "sig" });
    const wrong = await get(t, `/img/width=200,sig=${"A".repeat(43)}/photos/a.jpg`);
    expect(wrong.status).toBe(403);
    expect(errorOf(wrong.body)).toMatchObject({ error: "bad_signature", option: "sig" });
    // A signature is for its options: another width with it is refused.
    const tampered = signed("/img/width=200/photos/a.jpg").replace("width=200", "width=400");
    expect((await get(t, tampered)).status).toBe(403);
    expect(origin.count()).toBe(0);
  });

  it("transforms a signed URL, and a format=auto signature with the negotiated format", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: small } }), signing);
    const ok = await get(t, signed("/img/width=200,format=webp/photos/a.jpg"));
    expect(ok.status).toBe(200);
    expect(await width(ok.body)).toBe(200);
    const auto = signed("/img/width=300,format=auto/photos/a.jpg");
    const forwarded = await get(t, auto.replace("format=auto", "format=webp"));
    expect(forwarded.status).toBe(200);
    expect(forwarded.res.headers.get("content-type")).toBe("image/webp");
    expect(await width(forwarded.body)).toBe(300);
    // The query string is signed too.
    const parsed = parseTransformPath("/img/width=200/photos/a.jpg", "/img/");
    if (!parsed.ok) throw new Error(parsed.message);
    const sig = signTransform("/img/", parsed.transform, "v=2", SECRET);
    expect((await get(t, `/img/width=200,sig=${sig}/photos/a.jpg?v=2`)).status).toBe(200);
    expect((await get(t, `/img/width=200,sig=${sig}/photos/a.jpg?v=3`)).status).toBe(403);
    // But a concrete-format signature does not cover another format.
    const webpSig = signed("/img/width=300,format=webp/photos/a.jpg");
    expect((await get(t, webpSig.replace("format=webp", "format=png"))).status).toBe(403);
  });
});
