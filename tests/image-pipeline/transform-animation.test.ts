/**
 * The sharp transform on animated sources (WebP and GIF), run for real and checked frame by
 * frame on the decoded output: frames, timing, loop count, stills, and every frame turned,
 * mirrored and EXIF-oriented like a still image.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { outputSize, transform } from "../../image-pipeline/transform.ts";
import {
  animation,
  BLUE,
  DELAYS,
  decode,
  expectColour,
  FRAME_COLOURS,
  GREEN,
  RED,
  type Rgb,
  rejection,
  settings,
  spec,
  YELLOW,
} from "./support.ts";

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

  it.each(["webp", "gif"] as const)(
    "refuses a %s whose frames are each under the pixel limit but together over it, from its header",
    async (kind) => {
      // 4 frames of 32×32: 1024 pixels each, 4096 together, against a limit of 3000. The
      // output (16×16 × 4 frames = 1024 pixels) is well under it, so the output bound
      // cannot be what refuses; libvips' own limit would refuse only later, decoding, and
      // with a message that does not count the frames.
      const limited = { ...settings, maxInputPixels: 3000 };
      const source = kind === "webp" ? webp : gif;
      const err = await rejection(
        transform(source, spec({ format: "webp", width: "16" }), limited),
      );
      expect(err.status).toBe(413);
      expect(err.toJSON()).toEqual({
        error: "too_many_pixels",
        message: "the source has 4096 pixels over its frames; at most 3000 are allowed",
      });
      // The same request for one frame is under the limit and is served.
      const still = await transform(
        source,
        spec({ format: "webp", width: "16", anim: "false" }),
        limited,
      );
      expect([still.width, still.height, still.animated]).toEqual([16, 16, false]);
    },
  );

  it("counts the pixels of every output frame too: a tiny animation cannot be blown up", async () => {
    // 4 frames of 32×32 (4096 pixels) under a 110,000-pixel limit: 150 px wide (rounded
    // up to the 160 px step) is 102,400 pixels over the frames, 200 px would be 160,000.
    const limited = { ...settings, maxInputPixels: 110_000 };
    for (const fit of ["contain", "pad", "cover"]) {
      const o = { format: "webp", width: "200", height: "200", fit };
      const err = await rejection(transform(gif, spec(o), limited));
      expect(err.code, fit).toBe("too_many_pixels");
      expect(err.status, fit).toBe(413);
    }
    const ok = await transform(
      gif,
      spec({ format: "webp", width: "150", fit: "contain" }),
      limited,
    );
    expect([ok.width, ok.height, ok.animated]).toEqual([160, 160, true]);
    const one = await transform(
      gif,
      spec({ format: "webp", width: "200", fit: "contain", anim: "false" }),
      limited,
    );
    expect([one.width, one.animated]).toEqual([200, false]);
  });

  it.each([
    ["blur=40", { blur: "40" }],
    ["sharpen=10", { sharpen: "10" }],
  ])("%s works on each frame alone: no colour bleeds in from the next frame", async (_, o) => {
    const out = await transform(gif, spec({ format: "webp", quality: "100", ...o }), settings);
    const meta = await sharp(out.data, { animated: true }).metadata();
    expect([meta.pages, meta.width, meta.pageHeight]).toEqual([4, 32, 32]);
    expect(meta.delay).toEqual(DELAYS);
    const px = await decode(out.data, true);
    // The red frame's bottom row and the green frame's top row stay their own colour.
    for (const x of [0, 16, 31]) {
      expectColour(px.at(x, 31), RED, 12);
      expectColour(px.at(x, 32), GREEN, 12);
    }
  });

  it("fit=cover with gravity=auto or face crops every frame about its centre", async () => {
    for (const gravity of ["auto", "face"]) {
      const o = { format: "webp", width: "16", height: "8", fit: "cover", gravity };
      const out = await transform(gif, spec(o), settings);
      expect([out.width, out.height, out.animated], gravity).toEqual([16, 8, true]);
      expect((await sharp(out.data).metadata()).pages, gravity).toBe(4);
    }
  });

  it("frame delays longer than 65.5 s (a GIF holds up to 655 s) are shortened, not refused", async () => {
    // Patch every Graphic Control Extension's delay to 0xFFFF centiseconds.
    const long = Buffer.from(gif);
    let patched = 0;
    for (let i = long.indexOf(GCE); i >= 0; i = long.indexOf(GCE, i + 1)) {
      long.writeUInt16LE(0xffff, i + 4);
      patched++;
    }
    expect(patched).toBe(4);
    const cases: Record<string, string>[] = [
      { format: "webp" },
      { format: "gif", rotate: "90" },
      { format: "webp", flip: "v" },
    ];
    for (const o of cases) {
      const out = await transform(long, spec(o), settings);
      const meta = await sharp(out.data).metadata();
      expect(meta.pages, JSON.stringify(o)).toBe(4);
      for (const d of meta.delay ?? []) expect(d, JSON.stringify(o)).toBeGreaterThanOrEqual(65_000);
    }
  });
});

/** A GIF Graphic Control Extension's introducer, label and block size. */
const GCE = Buffer.from([0x21, 0xf9, 0x04]);

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

  it("fit=cover with a point gravity crops every frame about that point", async () => {
    // 48×32 → 24×16 to cover 16×16; the lit block is then x < 8, y < 8.
    const o = { format: "webp", width: "16", height: "16", fit: "cover" };
    const left = await framesOf(
      (await transform(src, spec({ ...o, gravity: "0x0" }), settings)).data,
    );
    expect([left.width, left.height]).toEqual([16, 16]);
    expectEachFrame(left, [6, 2], [12, 12]); // the crop starts at x 0
    const right = await framesOf(
      (await transform(src, spec({ ...o, gravity: "1x0" }), settings)).data,
    );
    // The crop starts at x 8: the block is outside it, in every frame.
    for (let i = 0; i < 4; i++) expectColour(right.at(i, 2, 2), [0, 0, 0]);
  });

  it("turning frame by frame stops at the time limit", async () => {
    const moving = await animation("gif", { corner: true });
    const err = await rejection(
      transform(moving, spec({ format: "webp", rotate: "90" }), { ...settings, timeoutMs: 0 }),
    );
    expect(err.code).toBe("transform_timeout");
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

describe("the output size worked out before decoding (what the animation bound checks)", () => {
  it("is the size the transform then makes, for every fit", async () => {
    const source = await animation("gif", { width: 48, height: 32 });
    const cases: Record<string, string>[] = [
      {},
      { width: "100" },
      { width: "20" },
      { height: "100", fit: "contain" },
      { width: "20", height: "100", fit: "scale-down" },
      { width: "100", height: "100", fit: "contain" },
      { width: "100", height: "50", fit: "pad" },
      { width: "100", height: "50", fit: "squeeze" },
      { width: "100", height: "100", fit: "cover" },
      { width: "100", height: "100", fit: "crop" },
      { width: "24", height: "24", fit: "crop" },
      { width: "100", dpr: "2", fit: "contain" },
    ];
    for (const o of cases) {
      const s = spec({ format: "webp", ...o });
      const out = await transform(source, s, settings);
      expect([out.width, out.height], JSON.stringify(o)).toEqual(
        Object.values(outputSize(s, 48, 32, settings)),
      );
    }
  });
});
