/**
 * The sharp transform's output encoding, run for real and checked on the decoded output:
 * formats, quality, transparency, metadata, colour profiles and byte-for-byte determinism.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { transform } from "../../image-pipeline/transform.ts";
import {
  animation,
  decode,
  expectColour,
  GREEN,
  painted,
  RED,
  settings,
  sourcePhoto,
  spec,
  WHITE,
} from "./support.ts";

let photo: Buffer;

beforeAll(async () => {
  photo = await sourcePhoto();
});

describe("format", () => {
  it.each([
    ["jpeg", "jpeg"],
    ["png", "png"],
    ["webp", "webp"],
    ["avif", "heif"],
    ["gif", "gif"],
  ] as const)("format=%s encodes %s", async (format, decoded) => {
    const out = await transform(photo, spec({ format, width: "200" }), settings);
    expect(out.format).toBe(format);
    const meta = await sharp(out.data).metadata();
    expect(meta.format).toBe(decoded);
    if (format === "avif") expect(meta.compression).toBe("av1");
    expect([meta.width, meta.height]).toEqual([200, 150]);
  });

  it("keeps the source's format when none is asked", async () => {
    const png = await painted(64, 48, GREEN);
    const out = await transform(png, spec({ width: "32" }), settings);
    expect(out.format).toBe("png");
    expect((await sharp(out.data).metadata()).format).toBe("png");
  });

  it("format=jpeg is progressive, format=baseline-jpeg is not", async () => {
    const progressive = await transform(photo, spec({ format: "jpeg" }), settings);
    const baseline = await transform(photo, spec({ format: "baseline-jpeg" }), settings);
    expect(baseline.format).toBe("jpeg");
    expect((await sharp(progressive.data).metadata()).isProgressive).toBe(true);
    const meta = await sharp(baseline.data).metadata();
    expect(meta.format).toBe("jpeg");
    expect(meta.isProgressive).toBe(false);
  });

  it.each(["jpeg", "webp", "avif"])("a lower quality gives a smaller %s", async (format) => {
    const low = await transform(photo, spec({ format, quality: "30" }), settings);
    const high = await transform(photo, spec({ format, quality: "90" }), settings);
    expect(low.data.length).toBeLessThan(high.data.length * 0.8);
  });

  it("transparency flattened into JPEG becomes white by default, not black", async () => {
    const clear = await sharp({
      create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const out = await transform(clear, spec({ format: "jpeg" }), settings);
    expect((await sharp(out.data).metadata()).format).toBe("jpeg");
    expectColour((await decode(out.data)).at(20, 15), WHITE, 8);

    const red = await transform(clear, spec({ format: "jpeg", background: "red" }), settings);
    expectColour((await decode(red.data)).at(20, 15), RED, 8);
  });
});

describe("metadata", () => {
  let withExif: Buffer;
  beforeAll(async () => {
    withExif = await sharp(photo)
      .withExif({ IFD0: { Copyright: "(c) Ann", Artist: "Ann", Make: "Cam" } })
      .jpeg()
      .toBuffer();
    const exif = (await sharp(withExif).metadata()).exif?.toString("latin1") ?? "";
    expect(exif).toContain("Cam");
  });

  it("is stripped by default", async () => {
    for (const format of ["jpeg", "webp", "png"]) {
      const out = await transform(withExif, spec({ format }), settings);
      expect((await sharp(out.data).metadata()).exif, format).toBeUndefined();
    }
  });

  it("metadata=copyright keeps Copyright and Artist, nothing else", async () => {
    const out = await transform(withExif, spec({ metadata: "copyright" }), settings);
    const exif = (await sharp(out.data).metadata()).exif?.toString("latin1") ?? "";
    expect(exif).toContain("(c) Ann");
    expect(exif).toMatch(/\0Ann\0/);
    expect(exif).not.toContain("Cam");
  });

  it("metadata=copyright on a source without EXIF adds none", async () => {
    const out = await transform(photo, spec({ metadata: "copyright" }), settings);
    expect((await sharp(out.data).metadata()).exif).toBeUndefined();
  });

  it("metadata=keep keeps the camera fields too", async () => {
    const out = await transform(withExif, spec({ metadata: "keep", format: "webp" }), settings);
    const exif = (await sharp(out.data).metadata()).exif?.toString("latin1") ?? "";
    expect(exif).toContain("Cam");
    expect(exif).toContain("(c) Ann");
  });
});

describe("colour profile", () => {
  it("a Display P3 source keeps its colours: converted to sRGB when stripped, profile kept with metadata=keep", async () => {
    // sRGB (0,200,0) stored as Display P3 numbers (about 90,197,58), tagged P3.
    const p3 = await sharp({
      create: { width: 20, height: 20, channels: 3, background: "#00c800" },
    })
      .withIccProfile("p3")
      .png()
      .toBuffer();
    const stored = await sharp(p3).keepIccProfile().raw().toBuffer();
    expect(stored[0]).toBeGreaterThan(60);

    // Untagged output is read as sRGB by a browser: its numbers must be the sRGB ones.
    const stripped = await transform(p3, spec({ format: "png" }), settings);
    expect((await sharp(stripped.data).metadata()).icc).toBeUndefined();
    expectColour((await decode(stripped.data)).at(10, 10), [0, 200, 0], 12);

    // Kept: the profile travels with the numbers, and read through it, the same green.
    const kept = await transform(p3, spec({ format: "png", metadata: "keep" }), settings);
    expect((await sharp(kept.data).metadata()).icc).toBeDefined();
    expectColour((await decode(kept.data)).at(10, 10), [0, 200, 0], 12);
  });
});

describe("determinism (the shield's ETag is derived from input and options)", () => {
  it.each(["webp", "avif", "jpeg"])(
    "the same input and options give identical %s bytes",
    async (format) => {
      const o = spec({ format, width: "200", height: "200", fit: "cover" });
      const a = await transform(photo, o, settings);
      const b = await transform(photo, o, settings);
      expect(a.data.length).toBeGreaterThan(0);
      expect(Buffer.compare(a.data, b.data)).toBe(0);
    },
  );

  it("an animated WebP is byte-identical twice as well", async () => {
    const src = await animation("gif");
    const o = spec({ format: "webp", width: "16" });
    const a = await transform(src, o, settings);
    const b = await transform(src, o, settings);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
  });
});
