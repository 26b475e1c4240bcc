/**
 * Automatic conversion of plain image paths against hostile and broken sources: a page at
 * an image path, a mislabelled body, a corrupt or truncated JPEG, a decompression bomb,
 * an animated PNG, a source over the byte limit, an error status, a full queue. Each
 * client gets what the origin sent (or the origin's own error), never a 500 and never a
 * broken image stored as the variant; outcomes that cannot change while the source does
 * not are remembered, the rest are tried again.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { crc32, photoJpeg, pngBomb } from "../helpers/images.ts";
import { decoded, get, imageOrigin, type Served, transforms } from "./images-support.ts";
import { fill, harness } from "./support.ts";

const h = harness();
const avif = { headers: { accept: "image/avif,image/webp,image/*,*/*;q=0.8" } };
const webp = { headers: { accept: "image/webp,*/*" } };

let jpeg: Buffer; // 400×300 photo

beforeAll(async () => {
  jpeg = await photoJpeg({ width: 400, height: 300 });
});

/** A PNG made an APNG by an acTL chunk after its header (libvips reads its first frame). */
async function animatedPng(): Promise<Buffer> {
  const still = await sharp(jpeg).png().toBuffer();
  const data = Buffer.alloc(8);
  data.writeUInt32BE(2, 0); // frames
  const typed = Buffer.concat([Buffer.from("acTL", "latin1"), data]);
  const chunk = Buffer.alloc(4 + typed.length + 4);
  chunk.writeUInt32BE(data.length, 0);
  typed.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typed), 4 + typed.length);
  // Signature (8) and IHDR (4 + 4 + 13 + 4 = 25): acTL goes right after.
  return Buffer.concat([still.subarray(0, 33), chunk, still.subarray(33)]);
}

describe("a source that is not a convertible image goes out as the origin sent it, remembered", () => {
  const cases: [why: string, served: () => Promise<Served>][] = [
    [
      "a page at an image path",
      async () => ({ body: Buffer.from("<p>moved</p>"), type: "text/html" }),
    ],
    ["HTML labelled image/jpeg", async () => ({ body: Buffer.from("<html>no</html>") })],
    [
      "an SVG",
      async () => ({
        body: Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"),
        type: "image/svg+xml",
      }),
    ],
    ["an animated PNG", async () => ({ body: await animatedPng(), type: "image/png" })],
    ["a gzip-encoded body", async () => ({ body: jpeg, headers: { "content-encoding": "gzip" } })],
  ];
  it.each(cases)("%s", async (_why, served) => {
    const file = await served();
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": file }));
    const first = await fill(t, "/photos/a.jpg", avif);
    const again = await get(t, "/photos/a.jpg", avif);
    for (const r of [first.res, again.res]) {
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe(file.type ?? "image/jpeg");
      expect(r.headers.get("vary")).toBe("accept");
    }
    expect(again.body.equals(file.body)).toBe(true);
    expect(again.cs).toMatch(/^shield; hit/);
    expect(await transforms(t, "passed_through")).toBe(1);
    expect(await transforms(t, "ok")).toBe(0);
  });
});

describe("a source that cannot be converted: the original, remembered, never a 500", () => {
  it.each([
    ["a truncated JPEG", "corrupt_image", () => jpeg.subarray(0, jpeg.length >> 1)],
    [
      "a JPEG marker then noise",
      "corrupt_image",
      () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4000, 0x5a)]),
    ],
  ])("%s", async (_why, code, body) => {
    const bytes = body();
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: bytes } }));
    const first = await fill(t, "/photos/a.jpg", avif);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("content-type")).toBe("image/jpeg");
    const again = await get(t, "/photos/a.jpg", avif);
    expect(again.cs).toMatch(/^shield; hit/);
    expect(again.body.equals(bytes)).toBe(true);
    // Decoded once, not once per request.
    expect(await transforms(t, code)).toBe(1);
    expect(await transforms(t, "ok")).toBe(0);
  });

  it("a decompression bomb (a 1×1 PNG that declares 100000×100000) is not decoded", async () => {
    const bomb = await pngBomb(100_000);
    const { t } = await h.start(
      imageOrigin({ "/photos/b.png": { body: bomb, type: "image/png" } }),
    );
    const r = await get(t, "/photos/b.png", avif);
    expect(r.status).toBe(200);
    expect(r.body.equals(bomb)).toBe(true);
    expect(await transforms(t, "too_many_pixels")).toBe(1);
  });

  it("a source over limits.maxInputPixels", async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: jpeg } }), {
      images: { limits: { maxInputPixels: 10_000 } },
    });
    const r = await get(t, "/photos/a.jpg", webp);
    expect(r.status).toBe(200);
    expect(r.body.equals(jpeg)).toBe(true);
    expect(await transforms(t, "too_many_pixels")).toBe(1);
  });
});

describe("answers never stored as the variant", () => {
  it.each([
    ["with a Content-Length", false],
    ["chunked", true],
  ])(
    "a source over limits.maxInputBytes, %s, is relayed whole each time",
    async (_how, chunked) => {
      const { origin, t } = await h.start(
        imageOrigin({ "/photos/a.jpg": { body: jpeg, chunked, etag: '"v1"' } }),
        { images: { limits: { maxInputBytes: 10_000 } } },
      );
      for (let round = 0; round < 2; round++) {
        const r = await get(t, "/photos/a.jpg", avif);
        await t.shield.drain();
        expect(r.status).toBe(200);
        expect(r.res.headers.get("content-type")).toBe("image/jpeg");
        expect(r.res.headers.get("etag")).toBe('"v1"');
        expect(r.body.equals(jpeg)).toBe(true);
        expect(r.cs).toMatch(/detail=source-not-stored/);
      }
      expect(await transforms(t, "source_too_large")).toBe(2);
      // The source itself is cached as usual.
      expect(origin.count()).toBe(1);
    },
  );

  it("the origin's 404 is relayed as it sent it", async () => {
    const { t } = await h.start(imageOrigin({}));
    const r = await get(t, "/photos/missing.jpg", avif);
    expect(r.status).toBe(404);
    expect(r.res.headers.get("content-type")).toBe("text/plain");
    expect(r.body.toString()).toBe("not here");
  });

  it("with the queue full, the original, no-store; a later request converts", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: jpeg } }, 100), {
      images: { limits: { concurrency: 1, maxQueue: 0 } },
    });
    // Both conversions wait on one source fetch, so both reach the queue at once.
    const [a, w] = await Promise.all([
      get(t, "/photos/a.jpg", avif),
      get(t, "/photos/a.jpg", webp),
    ]);
    const busy = [a, w].filter((r) => r.res.headers.get("content-type") === "image/jpeg");
    expect(busy).toHaveLength(1);
    expect(busy[0]?.res.headers.get("cache-control")).toBe("no-store");
    expect(busy[0]?.body.equals(jpeg)).toBe(true);
    expect(await transforms(t, "transform_busy")).toBe(1);
    await t.shield.drain();
    const later = await get(t, "/photos/a.jpg", busy[0] === a ? avif : webp);
    expect(later.res.headers.get("content-type")).toMatch(/^image\/(avif|webp)$/);
    expect((await decoded(later.body)).width).toBe(400);
    expect(origin.count()).toBe(1);
  });

  it("a request with Authorization is not converted: the origin answers it", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: jpeg } }));
    const r = await get(t, "/photos/a.jpg", {
      headers: { ...avif.headers, authorization: "Bearer abc" },
    });
    expect(r.res.headers.get("content-type")).toBe("image/jpeg");
    expect(origin.requests[0]?.headers.authorization).toBe("Bearer abc");
    expect(await transforms(t, "ok")).toBe(0);
  });
});
