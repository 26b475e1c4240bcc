/**
 * A JPEG's header read from its first bytes, while the rest is still arriving
 * (image-pipeline header.ts, ImagePipeline.probeHeader): the prefix must read exactly as
 * the whole file does, anything else must give no answer rather than a wrong one, and a
 * transform started with a header read this way must come out, and be refused, exactly
 * as one that reads the header itself.
 */
import fc from "fast-check";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { ImagePipeline, jpegHeaderLength } from "../../image-pipeline/index.ts";
import { probe } from "../../image-pipeline/transform.ts";
import { photoJpeg } from "../helpers/images.ts";
import { rejection, spec } from "./support.ts";

let photo: Buffer; // 640×480
const kinds: Record<string, Buffer> = {};

beforeAll(async () => {
  photo = await photoJpeg({ width: 640, height: 480 });
  const from = () => sharp(photo);
  Object.assign(kinds, {
    baseline: photo,
    progressive: await from().jpeg({ progressive: true }).toBuffer(),
    "EXIF orientation 6": await from().withMetadata({ orientation: 6 }).jpeg().toBuffer(),
    "20 KB of EXIF": await from()
      .withExif({ IFD0: { Copyright: "someone", Artist: "a".repeat(20_000) } })
      .jpeg()
      .toBuffer(),
    "an ICC profile": await from().withIccProfile("p3").jpeg().toBuffer(),
    CMYK: await from().toColourspace("cmyk").jpeg().toBuffer(),
    greyscale: await from().grayscale().jpeg().toBuffer(),
    "4:4:4": await from().jpeg({ chromaSubsampling: "4:4:4" }).toBuffer(),
  });
});

function pipelineWith(limits: Record<string, number> = {}): ImagePipeline {
  const config = parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
    images: { limits },
  });
  return new ImagePipeline(config.images, 2);
}

describe("jpegHeaderLength", () => {
  it("ends after the first scan's header, and that prefix probes exactly as the whole file", async () => {
    for (const [name, jpeg] of Object.entries(kinds)) {
      const length = jpegHeaderLength(jpeg);
      expect(length, name).not.toBeNull();
      expect(length as number, name).toBeLessThan(jpeg.length);
      // The SOS segment it ends with: FF DA, then its length.
      const sos = jpeg.lastIndexOf(Buffer.from([0xff, 0xda]), length as number);
      expect(sos, name).toBeGreaterThan(0);
      expect(sos + 2 + jpeg.readUInt16BE(sos + 2), name).toBe(length);
      expect(await probe(jpeg.subarray(0, length as number)), name).toEqual(await probe(jpeg));
    }
  });

  it("is null for anything short of a whole JPEG header", async () => {
    const length = jpegHeaderLength(photo) as number;
    for (let cut = 0; cut < length; cut += 7) {
      expect(jpegHeaderLength(photo.subarray(0, cut))).toBeNull();
    }
    expect(jpegHeaderLength(await sharp(photo).png().toBuffer())).toBeNull();
    expect(jpegHeaderLength(await sharp(photo).webp().toBuffer())).toBeNull();
    // End of image before any scan; a segment length under 2; a byte where a marker goes.
    expect(jpegHeaderLength(Buffer.from([0xff, 0xd8, 0xff, 0xd9, 0, 0]))).toBeNull();
    expect(jpegHeaderLength(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 0, 0]))).toBeNull();
    expect(jpegHeaderLength(Buffer.from([0xff, 0xd8, 0x12, 0x34, 0, 0]))).toBeNull();
  });

  it("never throws, and never claims more bytes than it was given, whatever the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (rest) => {
        const bytes = Buffer.concat([Buffer.from([0xff, 0xd8]), rest]);
        const length = jpegHeaderLength(bytes);
        return length === null || (length > 2 && length <= bytes.length);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("a transform started with a header read early", () => {
  it("gives the same bytes as one that reads the header itself", async () => {
    const pipeline = pipelineWith();
    for (const [name, jpeg] of Object.entries(kinds)) {
      const prefix = jpeg.subarray(0, jpegHeaderLength(jpeg) as number);
      const cases: Record<string, string>[] = [
        { width: "200", format: "webp" },
        { format: "avif" },
      ];
      for (const options of cases) {
        const early = await pipeline.run(jpeg, spec(options), pipeline.probeHeader(prefix));
        const late = await pipeline.run(jpeg, spec(options));
        expect(early.data.equals(late.data), `${name} ${JSON.stringify(options)}`).toBe(true);
        expect(early.source).toEqual(late.source);
      }
    }
  });

  it("is refused for its pixels with the same code and message", async () => {
    const pipeline = pipelineWith({ maxInputPixels: 100_000 });
    const prefix = photo.subarray(0, jpegHeaderLength(photo) as number);
    const early = await rejection(
      pipeline.run(photo, spec({ width: "200" }), pipeline.probeHeader(prefix)),
    );
    const late = await rejection(pipeline.run(photo, spec({ width: "200" })));
    expect(early.code).toBe("too_many_pixels");
    expect([early.status, early.message]).toEqual([late.status, late.message]);
    expect(early.message).toContain("307200 pixels");
  });

  it("of a source whose body then turns out corrupt is refused as corrupt, as before", async () => {
    const pipeline = pipelineWith();
    const cut = photo.subarray(0, Math.floor(photo.length / 2));
    const prefix = cut.subarray(0, jpegHeaderLength(cut) as number);
    const early = await rejection(
      pipeline.run(cut, spec({ width: "200" }), pipeline.probeHeader(prefix)),
    );
    const late = await rejection(pipeline.run(cut, spec({ width: "200" })));
    expect(early.code).toBe("corrupt_image");
    expect([early.status, early.code]).toEqual([late.status, late.code]);
  });

  it("falls back to reading the header in the queue when the early read fails", async () => {
    const pipeline = pipelineWith();
    // A prefix libvips cannot read (its SOF is missing): no answer, never a rejection.
    const broken = Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2]);
    expect(await pipeline.probeHeader(broken)).toBeNull();
    const out = await pipeline.run(photo, spec({ width: "200" }), pipeline.probeHeader(broken));
    expect(out.width).toBe(200);
    const html = Buffer.from("<!doctype html><p>not an image</p>");
    expect(await pipeline.probeHeader(html)).toBeNull();
    expect((await rejection(pipeline.run(html, spec(), pipeline.probeHeader(html)))).code).toBe(
      "unsupported_image",
    );
  });
});
