/**
 * Shared fixtures and checks for the transform tests (transform-*.test.ts): the sharp
 * transform is run for real, and every output is decoded again with sharp and checked on
 * what a viewer would see (size, format, pixel colours, frames, metadata), never on the
 * transform's own report alone. All images are generated here at test time.
 */
import sharp from "sharp";
import { expect } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { ImageError, resolveTransform, type TransformSpec } from "../../core/variant/index.ts";
import type { PipelineSettings } from "../../image-pipeline/settings.ts";
import { photoJpeg } from "../helpers/images.ts";

const images = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
  // The pipeline's geometry tests were written against widths rounded up to a step.
  images: { widthPolicy: "round-up" },
}).images;

export const spec = (o: Record<string, string> = {}): TransformSpec =>
  resolveTransform(new Map(Object.entries(o)), images);

export const settings: PipelineSettings = {
  maxInputPixels: 50_000_000,
  maxOutputWidth: 4096,
  maxOutputHeight: 4096,
  timeoutMs: 10_000,
  avifEffort: 0,
  webpEffort: 2,
};

/** The 400×300 photo-like JPEG that the tests' expected sizes are worked out from. */
export const sourcePhoto = (): Promise<Buffer> => photoJpeg({ width: 400, height: 300 });

export type Rgb = readonly [number, number, number];
export const RED: Rgb = [255, 0, 0];
export const GREEN: Rgb = [0, 255, 0];
export const BLUE: Rgb = [0, 0, 255];
export const WHITE: Rgb = [255, 255, 255];
export const YELLOW: Rgb = [255, 255, 0];

const hex = (c: Rgb): string => `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;

/** A `base` image with `colour` painted over the given rectangles, as PNG. */
export async function painted(
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
export function halves(width: number, height: number, left: Rgb, right: Rgb): Promise<Buffer> {
  return painted(width, height, right, [
    { left: 0, top: 0, width: width / 2, height, colour: left },
  ]);
}

/** Decoded RGB pixels of an encoded image (all frames stacked when animated). */
export async function decode(
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
export function expectColour(actual: Rgb, expected: Rgb, tolerance = 40): void {
  const close = actual.every((v, i) => Math.abs(v - (expected[i] as number)) <= tolerance);
  if (!close) {
    expect.fail(`pixel ${actual.join(",")} is not close to ${expected.join(",")}`);
  }
}

/** Mean colour of the whole image. */
export async function meanColour(data: Buffer): Promise<Rgb> {
  const { channels } = await sharp(data).removeAlpha().stats();
  return channels.slice(0, 3).map((c) => c.mean) as unknown as Rgb;
}

/** The ImageError a transform is refused with; fails if it succeeds or throws anything else. */
export async function rejection(p: Promise<unknown>): Promise<ImageError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ImageError) return err;
    throw new Error(`expected an ImageError, got ${String(err)}`, { cause: err });
  }
  throw new Error("expected the transform to be refused, but it succeeded");
}

export const FRAME_COLOURS = [RED, GREEN, BLUE, YELLOW] as const;
export const DELAYS = [100, 200, 300, 400];

/**
 * An animated image of four frames (red, green, blue, yellow), each w × h, shown for
 * 100, 200, 300 and 400 ms, looping 3 times. `corner`: each frame black but for its
 * colour in the top-left block (x < w/3, y < h/2), so any turn or mirror shows.
 */
export async function animation(
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
