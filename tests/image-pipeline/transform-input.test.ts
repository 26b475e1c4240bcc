/**
 * The sharp transform's input guards, run for real: decompression bombs and pixel limits,
 * corrupt, truncated and unsupported sources, and the limits ImagePipeline is configured with.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { ImageError } from "../../core/variant/index.ts";
import { ImagePipeline } from "../../image-pipeline/index.ts";
import { transform } from "../../image-pipeline/transform.ts";
import { crc32, pngBomb } from "../helpers/images.ts";
import { GREEN, painted, rejection, settings, sourcePhoto, spec, WHITE } from "./support.ts";

let photo: Buffer;

beforeAll(async () => {
  photo = await sourcePhoto();
});

describe("hostile and broken sources", () => {
  it("refuses a tiny PNG declaring 40000×40000 pixels from its header, fast and without allocating", async () => {
    const real = await painted(1, 1, WHITE);
    expect(real.toString("latin1", 12, 16)).toBe("IHDR");
    // The CRC function is right: it reproduces the real IHDR's CRC.
    expect(crc32(real.subarray(12, 29))).toBe(real.readUInt32BE(29));
    const png = await pngBomb(40_000);
    const meta = await sharp(png, { limitInputPixels: false }).metadata();
    expect([meta.width, meta.height]).toEqual([40_000, 40_000]);
    expect(png.length).toBeLessThan(200);

    const rss = process.memoryUsage().rss;
    const started = performance.now();
    const err = await rejection(transform(png, spec({ width: "200" }), settings));
    const elapsed = performance.now() - started;
    expect(err.code).toBe("too_many_pixels");
    expect(err.status).toBe(413);
    expect(elapsed).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 * 1024);
  });

  it("refuses a real image over a small pixel limit", async () => {
    const src = await painted(200, 200, GREEN);
    const err = await rejection(transform(src, spec(), { ...settings, maxInputPixels: 10_000 }));
    expect(err.code).toBe("too_many_pixels");
    expect(err.status).toBe(413);
    // Under the limit it goes through.
    const ok = await transform(src, spec(), { ...settings, maxInputPixels: 40_000 });
    expect((await sharp(ok.data).metadata()).width).toBe(200);
  });

  const expect4xx = (err: ImageError): void => {
    expect(err).toBeInstanceOf(ImageError);
    expect(err.status).toBeGreaterThanOrEqual(400);
    expect(err.status).toBeLessThan(500);
  };

  it("random bytes are unsupported_image (415)", async () => {
    let s = 12345;
    const noise = Buffer.from(
      Array.from({ length: 4096 }, () => {
        s = (s * 1103515245 + 12345) >>> 0;
        return s >>> 24;
      }),
    );
    const err = await rejection(transform(noise, spec({ width: "200" }), settings));
    expect4xx(err);
    expect(err.code).toBe("unsupported_image");
    expect(err.status).toBe(415);
  });

  it("a JPEG cut in half is refused as corrupt or unsupported, never a generic error", async () => {
    const half = photo.subarray(0, Math.floor(photo.length / 2));
    const err = await rejection(transform(half, spec({ width: "200" }), settings));
    expect4xx(err);
    expect(["corrupt_image", "unsupported_image"]).toContain(err.code);
  });

  it("a PNG, WebP, GIF or AVIF cut in half is refused the same way", async () => {
    const small = sharp(photo).resize(100);
    for (const format of ["png", "webp", "gif", "avif"] as const) {
      const whole = await small.clone().toFormat(format).toBuffer();
      const half = whole.subarray(0, Math.floor(whole.length / 2));
      const err = await rejection(transform(half, spec({ format: "webp" }), settings));
      expect4xx(err);
      expect(["corrupt_image", "unsupported_image"], format).toContain(err.code);
    }
  });

  it("SVG and TIFF sources are refused by design (unsupported_image)", async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="red"/></svg>',
    );
    const tiff = await sharp(await painted(40, 40, GREEN))
      .tiff()
      .toBuffer();
    for (const src of [svg, tiff]) {
      const err = await rejection(transform(src, spec({ format: "png" }), settings));
      expect4xx(err);
      expect(err.code).toBe("unsupported_image");
      expect(err.status).toBe(415);
    }
  });

  it("an empty body is a 4xx ImageError", async () => {
    const err = await rejection(transform(Buffer.alloc(0), spec({ width: "200" }), settings));
    expect4xx(err);
  });
});

describe("ImagePipeline", () => {
  it("runs transforms with the configured limits", async () => {
    const limited = parseConfig({
      origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
      images: { limits: { maxInputPixels: 10_000, maxOutputWidth: 64, maxOutputHeight: 64 } },
    }).images;
    const pipeline = new ImagePipeline(limited, 2);
    expect(pipeline.settings.maxInputPixels).toBe(10_000);
    const err = await rejection(pipeline.run(photo, spec()));
    expect(err.code).toBe("too_many_pixels");
    const small = await painted(100, 80, GREEN);
    const out = await pipeline.run(small, spec());
    const meta = await sharp(out.data).metadata();
    expect([meta.width, meta.height]).toEqual([64, 51]);
  });
});
