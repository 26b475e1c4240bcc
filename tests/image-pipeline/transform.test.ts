/**
 * The sharp transform, run for real: every output is decoded again with sharp and checked
 * on what a viewer would see (size, format, pixel colours, frames, metadata), never on the
 * transform's own report alone. All images are generated here at test time.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { ImageError } from "../../image-pipeline/errors.ts";
import { ImagePipeline } from "../../image-pipeline/index.ts";
import { resolveTransform, type TransformSpec } from "../../image-pipeline/options.ts";
import { type PipelineSettings, transform } from "../../image-pipeline/transform.ts";
import { photoJpeg } from "../helpers/images.ts";

const images = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
  images: {},
}).images;

const spec = (o: Record<string, string> = {}): TransformSpec =>
  resolveTransform(new Map(Object.entries(o)), images);

const settings: PipelineSettings = {
  maxInputPixels: 50_000_000,
  maxOutputWidth: 4096,
  maxOutputHeight: 4096,
  timeoutMs: 10_000,
  avifEffort: 0,
  webpEffort: 2,
};

type Rgb = readonly [number, number, number];
const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const WHITE: Rgb = [255, 255, 255];
const YELLOW: Rgb = [255, 255, 0];

const hex = (c: Rgb): string => `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;

/** A `base` image with `colour` painted over the given rectangles, as PNG. */
async function painted(
  width: number,
  height: number,
  base: Rgb,
  rects: { left: number; top: number; width: number; height: number; colour: Rgb }[] = [],
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: hex(base) } })
    .composite(
      rects.map((r) => ({
        input: {
          create: { width: r.width, height: r.height, channels: 3, background: hex(r.colour) },
        },
        left: r.left,
        top: r.top,
      })),
    )
    .png()
    .toBuffer();
}

/** Left half `left`, right half `right`. */
function halves(width: number, height: number, left: Rgb, right: Rgb): Promise<Buffer> {
  return painted(width, height, right, [
    { left: 0, top: 0, width: width / 2, height, colour: left },
  ]);
}

/** Decoded RGB pixels of an encoded image (all frames stacked when animated). */
async function decode(
  data: Buffer,
  animated = false,
): Promise<{ width: number; height: number; at(x: number, y: number): Rgb }> {
  const { data: raw, info } = await sharp(data, { animated })
    .flatten({ background: "#000" })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    at(x, y) {
      if (x < 0 || y < 0 || x >= info.width || y >= info.height) {
        throw new Error(`pixel ${x},${y} outside ${info.width}x${info.height}`);
      }
      const o = (y * info.width + x) * info.channels;
      return [raw[o] as number, raw[o + 1] as number, raw[o + 2] as number];
    },
  };
}

/** Each channel within `tolerance` of the expected colour (lossy encoders drift a little). */
function expectColour(actual: Rgb, expected: Rgb, tolerance = 40): void {
  const close = actual.every((v, i) => Math.abs(v - (expected[i] as number)) <= tolerance);
  if (!close) {
    expect.fail(`pixel ${actual.join(",")} is not close to ${expected.join(",")}`);
  }
}

/** Mean colour of the whole image. */
async function meanColour(data: Buffer): Promise<Rgb> {
  const { channels } = await sharp(data).removeAlpha().stats();
  return channels.slice(0, 3).map((c) => c.mean) as unknown as Rgb;
}

async function rejection(p: Promise<unknown>): Promise<ImageError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ImageError) return err;
    throw new Error(`expected an ImageError, got ${String(err)}`, { cause: err });
  }
  throw new Error("expected the transform to be refused, but it succeeded");
}

const FRAME_COLOURS = [RED, GREEN, BLUE, YELLOW] as const;
const DELAYS = [100, 200, 300, 400];

/**
 * An animated image of four frames (red, green, blue, yellow), each w × h, shown for
 * 100, 200, 300 and 400 ms, looping 3 times. `corner`: each frame black but for its
 * colour in the top-left block (x < w/3, y < h/2), so any turn or mirror shows.
 */
async function animation(
  format: "webp" | "gif",
  o: { width?: number; height?: number; corner?: boolean; orientation?: number } = {},
): Promise<Buffer> {
  const w = o.width ?? 32;
  const h = o.height ?? 32;
  const raw = Buffer.alloc(w * h * FRAME_COLOURS.length * 4);
  FRAME_COLOURS.forEach((c, f) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const lit = !o.corner || (x < w / 3 && y < h / 2);
        raw.set(lit ? [...c, 255] : [0, 0, 0, 255], (f * w * h + y * w + x) * 4);
      }
    }
  });
  let img = sharp(raw, {
    raw: { width: w, height: h * FRAME_COLOURS.length, channels: 4, pageHeight: h },
  });
  img =
    format === "webp"
      ? img.webp({ loop: 3, delay: DELAYS, lossless: true })
      : img.gif({ loop: 3, delay: DELAYS });
  if (o.orientation !== undefined) img = img.withMetadata({ orientation: o.orientation });
  return img.toBuffer();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

let photo: Buffer;
let redBlue: Buffer;

beforeAll(async () => {
  photo = await photoJpeg({ width: 400, height: 300 });
  redBlue = await halves(400, 300, RED, BLUE);
});

describe("fit", () => {
  it("scale-down never enlarges a small source but shrinks a large one", async () => {
    const big = await transform(photo, spec({ width: "800", height: "600" }), settings);
    const bigMeta = await sharp(big.data).metadata();
    expect([bigMeta.width, bigMeta.height]).toEqual([400, 300]);

    const small = await transform(photo, spec({ width: "200", height: "200" }), settings);
    const smallMeta = await sharp(small.data).metadata();
    expect([smallMeta.width, smallMeta.height]).toEqual([200, 150]);
    expect([small.width, small.height]).toEqual([200, 150]);
  });

  it("contain enlarges to fit inside the box, keeping the aspect ratio", async () => {
    const out = await transform(
      photo,
      spec({ width: "800", height: "800", fit: "contain" }),
      settings,
    );
    const meta = await sharp(out.data).metadata();
    expect([meta.width, meta.height]).toEqual([800, 600]);
  });

  it("cover fills the exact box and crops (not distorts) the overflow", async () => {
    // Red on the left quarter: scaled to 267×200 and centre-cropped to 200, only the
    // leftmost 33 px stay red. A squeeze would keep 50 px red.
    const src = await painted(400, 300, BLUE, [
      { left: 0, top: 0, width: 100, height: 300, colour: RED },
    ]);
    const out = await transform(src, spec({ width: "200", height: "200", fit: "cover" }), settings);
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([200, 200]);
    expectColour(px.at(10, 100), RED);
    expectColour(px.at(42, 100), BLUE);

    // Cover also enlarges: a 400×300 source into 800×800 is 800×800.
    const up = await transform(
      photo,
      spec({ width: "800", height: "800", fit: "cover" }),
      settings,
    );
    const upMeta = await sharp(up.data).metadata();
    expect([upMeta.width, upMeta.height]).toEqual([800, 800]);
  });

  it("crop fills the box without enlarging: a side shorter than the box stays as it is", async () => {
    // scale = min(1, max(640/400, 200/300)) = 1 → 400×300, cut to min(640,400)×min(200,300).
    const src = await painted(400, 300, BLUE, [
      { left: 0, top: 0, width: 400, height: 40, colour: RED },
    ]);
    const out = await transform(src, spec({ width: "640", height: "200", fit: "crop" }), settings);
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([400, 200]);
    expect([out.width, out.height]).toEqual([400, 200]);
    // Centre crop: rows 50..250 of the source; the red top band (rows 0..40) is cut away.
    expectColour(px.at(200, 2), BLUE);

    // A box smaller than the source: scale = max(200/400, 200/300) → 267×200 → 200×200.
    const down = await transform(
      photo,
      spec({ width: "200", height: "200", fit: "crop" }),
      settings,
    );
    const downMeta = await sharp(down.data).metadata();
    expect([downMeta.width, downMeta.height]).toEqual([200, 200]);
  });

  it("pad gives the exact box with the background colour in the padding", async () => {
    const src = await painted(400, 300, GREEN);
    const out = await transform(
      src,
      spec({ width: "800", height: "800", fit: "pad", background: "%23ff0000" }),
      settings,
    );
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([800, 800]);
    // 800×600 image centred: 100 rows of padding above and below.
    expectColour(px.at(400, 10), RED);
    expectColour(px.at(400, 790), RED);
    expectColour(px.at(400, 400), GREEN);
    expectColour(px.at(5, 400), GREEN);
  });

  it("squeeze gives the exact box, distorting the aspect ratio instead of cropping", async () => {
    const src = await painted(400, 300, BLUE, [
      { left: 0, top: 0, width: 100, height: 300, colour: RED },
    ]);
    const out = await transform(
      src,
      spec({ width: "200", height: "200", fit: "squeeze" }),
      settings,
    );
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([200, 200]);
    // The red quarter is squeezed to 50 px, all of it kept (cover would keep 33 px).
    expectColour(px.at(42, 100), RED);
    expectColour(px.at(58, 100), BLUE);
  });
});

describe("size", () => {
  it("width alone and height alone keep the aspect ratio", async () => {
    const w = await sharp(
      (await transform(photo, spec({ width: "200" }), settings)).data,
    ).metadata();
    expect([w.width, w.height]).toEqual([200, 150]);
    const h = await sharp(
      (await transform(photo, spec({ height: "240" }), settings)).data,
    ).metadata();
    expect([h.width, h.height]).toEqual([320, 240]);
  });

  it("dpr=2 doubles the output size", async () => {
    const one = await transform(photo, spec({ width: "80" }), settings);
    const two = await transform(photo, spec({ width: "80", dpr: "2" }), settings);
    const [m1, m2] = await Promise.all([sharp(one.data).metadata(), sharp(two.data).metadata()]);
    expect([m1.width, m1.height]).toEqual([80, 60]);
    expect([m2.width, m2.height]).toEqual([160, 120]);
  });

  it("a source larger than the output limit comes out within it when no size is asked", async () => {
    const bounded = { ...settings, maxOutputWidth: 256, maxOutputHeight: 256 };
    const out = await transform(photo, spec(), bounded);
    const meta = await sharp(out.data).metadata();
    expect(meta.width).toBeLessThanOrEqual(256);
    expect(meta.height).toBeLessThanOrEqual(256);
    expect([meta.width, meta.height]).toEqual([256, 192]);

    // A 1:25 strip asked only for its width is bounded in height as well.
    const strip = await painted(40, 1000, GREEN);
    const tall = await transform(strip, spec({ width: "32", fit: "contain" }), bounded);
    const tallMeta = await sharp(tall.data).metadata();
    expect(tallMeta.height).toBeLessThanOrEqual(256);
  });
});

describe("gravity (fit=cover, left half red, right half blue)", () => {
  const crop = async (gravity: string): Promise<Rgb> => {
    // 400×300 into 160×300: no scaling, a 160-px-wide window chosen by gravity.
    const out = await transform(
      redBlue,
      spec({ width: "160", height: "300", fit: "cover", gravity }),
      settings,
    );
    const meta = await sharp(out.data).metadata();
    expect([meta.width, meta.height]).toEqual([160, 300]);
    return meanColour(out.data);
  };

  it("gravity=left keeps the red half", async () => {
    expectColour(await crop("left"), RED, 10);
  });

  it("gravity=right keeps the blue half", async () => {
    expectColour(await crop("right"), BLUE, 10);
  });

  it("a focal point at 0.9x0.5 keeps the blue half, 0.1x0.5 the red", async () => {
    expectColour(await crop("0.9x0.5"), BLUE, 10);
    expectColour(await crop("0.1x0.5"), RED, 10);
  });

  it("the default (center) keeps both colours", async () => {
    const px = await decode(
      (await transform(redBlue, spec({ width: "160", height: "300", fit: "cover" }), settings))
        .data,
    );
    expectColour(px.at(5, 150), RED);
    expectColour(px.at(155, 150), BLUE);
  });
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

describe("orientation, rotate and flip", () => {
  it("applies EXIF orientation: landscape pixels tagged 6 come out portrait, untagged", async () => {
    // Stored 40×20, left red / right blue; orientation 6 displays it turned 90° clockwise,
    // so red on top.
    const tagged = await sharp(await halves(40, 20, RED, BLUE))
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(tagged).metadata()).orientation).toBe(6);

    const options: Record<string, string>[] = [
      {},
      { format: "webp" },
      { metadata: "keep" },
      { metadata: "copyright" },
    ];
    for (const o of options) {
      const out = await transform(tagged, spec(o), settings);
      const meta = await sharp(out.data).metadata();
      expect([meta.width, meta.height], JSON.stringify(o)).toEqual([20, 40]);
      expect([undefined, 1], JSON.stringify(o)).toContain(meta.orientation);
      const px = await decode(out.data);
      expectColour(px.at(10, 5), RED);
      expectColour(px.at(10, 35), BLUE);
    }
  });

  it("rotate=90 turns the image a quarter clockwise", async () => {
    const out = await transform(await halves(40, 20, RED, BLUE), spec({ rotate: "90" }), settings);
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([20, 40]);
    expectColour(px.at(10, 5), RED);
    expectColour(px.at(10, 35), BLUE);
  });

  it("rotate=90 sizes the rotated image: width applies to the axis after rotation", async () => {
    const out = await transform(photo, spec({ rotate: "90", width: "150" }), settings);
    const meta = await sharp(out.data).metadata();
    // 400×300 turned is 300×400; width 160 (the step for 150) → 160×213.
    expect([meta.width, meta.height]).toEqual([160, 213]);
  });

  it("flip=h mirrors left and right, flip=v top and bottom", async () => {
    const h = await decode(
      (await transform(await halves(40, 20, RED, BLUE), spec({ flip: "h" }), settings)).data,
    );
    expect([h.width, h.height]).toEqual([40, 20]);
    expectColour(h.at(5, 10), BLUE);
    expectColour(h.at(35, 10), RED);

    const topRed = await painted(40, 20, BLUE, [
      { left: 0, top: 0, width: 40, height: 10, colour: RED },
    ]);
    const v = await decode((await transform(topRed, spec({ flip: "v" }), settings)).data);
    expectColour(v.at(20, 3), BLUE);
    expectColour(v.at(20, 17), RED);
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

describe("animation (4 frames: red, green, blue, yellow)", () => {
  let webp: Buffer;
  let gif: Buffer;
  beforeAll(async () => {
    webp = await animation("webp");
    gif = await animation("gif");
    for (const a of [webp, gif]) expect((await sharp(a).metadata()).pages).toBe(4);
  });

  /** Each frame's centre colour and the frame size. */
  async function frames(data: Buffer): Promise<{ size: number[]; colours: Rgb[] }> {
    const meta = await sharp(data, { animated: true }).metadata();
    const pages = meta.pages ?? 1;
    const pageHeight = meta.pageHeight ?? meta.height;
    const px = await decode(data, true);
    expect(px.height).toBe(pageHeight * pages);
    const colours = Array.from({ length: pages }, (_, i) =>
      px.at(Math.floor(px.width / 2), i * pageHeight + Math.floor(pageHeight / 2)),
    );
    return { size: [meta.width, pageHeight], colours };
  }

  it.each(["webp", "gif"] as const)(
    "format=webp keeps every frame of a %s, each resized",
    async (kind) => {
      const out = await transform(
        kind === "webp" ? webp : gif,
        spec({ format: "webp", width: "16" }),
        settings,
      );
      expect(out.format).toBe("webp");
      expect(out.animated).toBe(true);
      expect((await sharp(out.data).metadata()).format).toBe("webp");
      const f = await frames(out.data);
      expect(f.size).toEqual([16, 16]);
      expect(f.colours).toHaveLength(4);
      [RED, GREEN, BLUE, YELLOW].forEach((c, i) => {
        expectColour(f.colours[i] as Rgb, c);
      });
    },
  );

  it("format=gif keeps every frame", async () => {
    const out = await transform(webp, spec({ format: "gif", width: "16" }), settings);
    expect(out.format).toBe("gif");
    expect((await sharp(out.data).metadata()).format).toBe("gif");
    const f = await frames(out.data);
    expect(f.size).toEqual([16, 16]);
    expect(f.colours).toHaveLength(4);
    expectColour(f.colours[3] as Rgb, YELLOW);
  });

  it("format=avif on an animated source comes out as animated WebP", async () => {
    const out = await transform(gif, spec({ format: "avif" }), settings);
    expect(out.format).toBe("webp");
    expect(out.animated).toBe(true);
    const meta = await sharp(out.data).metadata();
    expect(meta.format).toBe("webp");
    expect(meta.pages).toBe(4);
  });

  it("anim=false gives a single still frame (the first)", async () => {
    const out = await transform(webp, spec({ format: "webp", anim: "false" }), settings);
    expect(out.animated).toBe(false);
    const meta = await sharp(out.data).metadata();
    expect(meta.pages ?? 1).toBe(1);
    expect([meta.width, meta.height]).toEqual([32, 32]);
    expectColour((await decode(out.data)).at(16, 16), RED);

    // anim=false with avif asked stays AVIF: only an animation needs WebP.
    const avif = await transform(webp, spec({ format: "avif", anim: "false" }), settings);
    expect(avif.format).toBe("avif");
    expect((await sharp(avif.data).metadata()).format).toBe("heif");
  });

  it("format=png gives a single frame, not the frames stacked", async () => {
    const out = await transform(gif, spec({ format: "png" }), settings);
    expect(out.animated).toBe(false);
    const meta = await sharp(out.data).metadata();
    expect(meta.format).toBe("png");
    expect([meta.width, meta.height]).toEqual([32, 32]);
    expectColour((await decode(out.data)).at(16, 16), RED);
  });

  it("keeps the frames' timing and loop count", async () => {
    for (const [src, format] of [
      [webp, "webp"],
      [gif, "gif"],
      [gif, "webp"],
    ] as const) {
      const out = await transform(src, spec({ format, width: "16" }), settings);
      const meta = await sharp(out.data).metadata();
      expect(meta.delay, format).toEqual(DELAYS);
      expect(meta.loop, format).toBe(3);
    }
  });

  it("reports the size of one frame, not of the strip of frames", async () => {
    const out = await transform(webp, spec({ format: "webp", width: "16" }), settings);
    expect([out.width, out.height]).toEqual([16, 16]);
  });

  it("counts the pixels of every kept frame against the limit", async () => {
    // 32×32×4 = 4096 pixels animated; one frame is 1024.
    const limited = { ...settings, maxInputPixels: 3000 };
    const err = await rejection(transform(webp, spec({ format: "webp" }), limited));
    expect(err.code).toBe("too_many_pixels");
    const still = await transform(webp, spec({ format: "webp", anim: "false" }), limited);
    expect((await sharp(still.data).metadata()).width).toBe(32);
  });
});

describe("animation turned and mirrored (each frame black, its colour in the top-left block)", () => {
  /** Frame i's colour at (x, y) of that frame, with the output's frame size and count. */
  async function framesOf(data: Buffer): Promise<{
    width: number;
    height: number;
    pages: number;
    at(i: number, x: number, y: number): Rgb;
  }> {
    const meta = await sharp(data, { animated: true }).metadata();
    const height = meta.pageHeight ?? meta.height;
    const px = await decode(data, true);
    return {
      width: meta.width,
      height,
      pages: meta.pages ?? 1,
      at: (i, x, y) => px.at(x, i * height + y),
    };
  }

  /** Every frame has its own colour at `lit` and black at `dark`: frame order and content kept. */
  function expectEachFrame(
    f: Awaited<ReturnType<typeof framesOf>>,
    lit: [number, number],
    dark: [number, number],
  ): void {
    expect(f.pages).toBe(4);
    FRAME_COLOURS.forEach((c, i) => {
      expectColour(f.at(i, ...lit), c);
      expectColour(f.at(i, ...dark), [0, 0, 0]);
    });
  }

  let src: Buffer;
  beforeAll(async () => {
    src = await animation("webp", { width: 48, height: 32, corner: true });
  });

  it("rotate=90 turns every frame a quarter clockwise, frames in order", async () => {
    const out = await transform(src, spec({ format: "webp", rotate: "90" }), settings);
    expect(out.animated).toBe(true);
    expect([out.width, out.height]).toEqual([32, 48]);
    const f = await framesOf(out.data);
    expect([f.width, f.height]).toEqual([32, 48]);
    // The top-left block turns to the top right.
    expectEachFrame(f, [24, 8], [8, 8]);
    const meta = await sharp(out.data).metadata();
    expect(meta.delay).toEqual(DELAYS);
    expect(meta.loop).toBe(3);
  });

  it("rotate=270 into GIF, resized, turns every frame a quarter anticlockwise", async () => {
    const out = await transform(src, spec({ format: "gif", rotate: "270", width: "16" }), settings);
    const f = await framesOf(out.data);
    expect([f.width, f.height]).toEqual([16, 24]);
    // The top-left block turns to the bottom left.
    expectEachFrame(f, [4, 20], [12, 4]);
  });

  it("flip=v mirrors every frame top to bottom and keeps the frames in order", async () => {
    const out = await transform(src, spec({ format: "webp", flip: "v" }), settings);
    const f = await framesOf(out.data);
    expect([f.width, f.height]).toEqual([48, 32]);
    expectEachFrame(f, [8, 24], [8, 8]);
  });

  it("rotate=180 turns every frame and keeps the frames in order", async () => {
    const out = await transform(src, spec({ format: "webp", rotate: "180" }), settings);
    const f = await framesOf(out.data);
    expectEachFrame(f, [40, 24], [8, 8]);
  });

  it("flip=h mirrors every frame left to right", async () => {
    const out = await transform(src, spec({ format: "webp", flip: "h" }), settings);
    const f = await framesOf(out.data);
    expectEachFrame(f, [40, 8], [8, 8]);
  });

  it("an animation with EXIF orientation 6 is shown upright, every frame", async () => {
    const tagged = await animation("webp", { width: 48, height: 32, corner: true, orientation: 6 });
    expect((await sharp(tagged).metadata()).orientation).toBe(6);
    const out = await transform(tagged, spec({ format: "webp" }), settings);
    const f = await framesOf(out.data);
    expect([f.width, f.height]).toEqual([32, 48]);
    expectEachFrame(f, [24, 8], [8, 8]);
    expect([undefined, 1]).toContain((await sharp(out.data).metadata()).orientation);
  });

  it("every EXIF orientation with rotate and flip matches the still image's first frame", async () => {
    const specs: Record<string, string>[] = [
      {},
      { rotate: "90" },
      { flip: "h" },
      { rotate: "270", flip: "v" },
      { flip: "hv" },
    ];
    for (let orientation = 1; orientation <= 8; orientation++) {
      const tagged = await animation("webp", { width: 48, height: 32, corner: true, orientation });
      for (const o of specs) {
        const label = `orientation ${orientation} ${JSON.stringify(o)}`;
        const moving = await framesOf(
          (await transform(tagged, spec({ format: "webp", ...o }), settings)).data,
        );
        const still = await decode(
          (await transform(tagged, spec({ format: "png", anim: "false", ...o }), settings)).data,
        );
        expect([moving.width, moving.height], label).toEqual([still.width, still.height]);
        expect(moving.pages, label).toBe(4);
        // The four quadrant centres of the first frame agree with the still image.
        for (const [x, y] of [
          [0.25, 0.25],
          [0.75, 0.25],
          [0.25, 0.75],
          [0.75, 0.75],
        ] as const) {
          const px = Math.floor(x * still.width);
          const py = Math.floor(y * still.height);
          const a = moving.at(0, px, py);
          const b = still.at(px, py);
          if (!a.every((v, i) => Math.abs(v - (b[i] as number)) <= 40)) {
            expect.fail(`${label}: frame 0 at ${px},${py} is ${a.join(",")}, still ${b.join(",")}`);
          }
        }
      }
    }
  });
});

describe("hostile and broken sources", () => {
  it("refuses a tiny PNG declaring 40000×40000 pixels from its header, fast and without allocating", async () => {
    const png = Buffer.from(
      await sharp({ create: { width: 1, height: 1, channels: 3, background: "#fff" } })
        .png()
        .toBuffer(),
    );
    expect(png.toString("latin1", 12, 16)).toBe("IHDR");
    // The CRC function is right: it reproduces the real IHDR's CRC.
    expect(crc32(png.subarray(12, 29))).toBe(png.readUInt32BE(29));
    png.writeUInt32BE(40_000, 16);
    png.writeUInt32BE(40_000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
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
