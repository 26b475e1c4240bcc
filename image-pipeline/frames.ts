/**
 * Animations turned frame by frame. libvips holds an animation as one tall strip of
 * frames: sharp refuses to turn it a quarter (EXIF orientation or rotate) and mirrors it
 * top to bottom as a whole, which also plays the frames backwards. So such animations
 * are decoded, each frame gets the operations a still image would, and the frames are
 * put back together.
 */
import sharp, { type Sharp } from "sharp";
import { ImageError, type TransformSpec } from "../core/variant/index.ts";
import { decodeError } from "./decode-error.ts";
import type { PipelineSettings } from "./settings.ts";

/**
 * EXIF orientation as the turn that shows the image upright, in sharp's order of
 * operations: mirror left to right (flop) first, then turn clockwise. (sharp's own table
 * turns first and mirrors after; mirroring first turns the other way.)
 */
const UPRIGHT: Readonly<Record<number, { flop: boolean; angle: 0 | 90 | 180 | 270 }>> = {
  2: { flop: true, angle: 0 },
  3: { flop: false, angle: 180 },
  4: { flop: true, angle: 180 },
  5: { flop: true, angle: 270 },
  6: { flop: false, angle: 90 },
  7: { flop: true, angle: 90 },
  8: { flop: false, angle: 270 },
};

/**
 * Decode an animation and turn each frame on its own, with the same sharp operations a
 * still image gets. Returns the frames as one raw strip (pageHeight set) for the rest of
 * the pipeline. Memory: the source's decoded pixels, twice at most, which the input pixel
 * limit has already bounded.
 */
export function turnEachFrame(
  input: Buffer,
  orientation: number,
  spec: TransformSpec,
  settings: PipelineSettings,
): Promise<Sharp> {
  const upright = UPRIGHT[orientation];
  // EXIF orientation first, then rotate and flip: the order a still image gets them in.
  const steps = [
    ...(upright === undefined ? [] : [{ ...upright, flip: false }]),
    {
      flop: spec.flip === "h" || spec.flip === "hv",
      flip: spec.flip === "v" || spec.flip === "hv",
      angle: spec.rotate,
    },
  ].filter((step) => step.flop || step.flip || step.angle !== 0);
  const decoded = sharp(input, {
    animated: true,
    limitInputPixels: settings.maxInputPixels,
    failOn: "error",
  });
  // One sharp call per step: sharp mirrors before it turns, whatever the order of calls.
  return eachFrame(decoded, settings, async (frame, timeout) => {
    let out = frame;
    for (const step of steps) {
      let img = sharp(out.data, { raw: out });
      if (step.flop) img = img.flop();
      if (step.flip) img = img.flip();
      if (step.angle !== 0) img = img.rotate(step.angle);
      const r = await img.timeout(timeout).raw().toBuffer({ resolveWithObject: true });
      out = { data: r.data, width: r.info.width, height: r.info.height, channels: r.info.channels };
    }
    return out;
  });
}

/**
 * Blur or sharpen each frame of a resized animation on its own. On the strip of frames
 * libvips would blur across the frame edges, bleeding each frame's neighbours into its
 * top and bottom rows. Returns the frames as one raw strip (pageHeight set).
 */
export function filterEachFrame(
  img: Sharp,
  filter: (frame: Sharp) => Sharp,
  settings: PipelineSettings,
): Promise<Sharp> {
  return eachFrame(img, settings, async (frame, timeout) => {
    const data = await filter(sharp(frame.data, { raw: frame }))
      .timeout(timeout)
      .raw()
      .toBuffer();
    return { ...frame, data };
  });
}

interface RawFrame {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/**
 * Render `img` (an animation) as raw frames, map each, and put them back together as
 * one raw strip that sharp reads as an animation. libvips' timeout covers each sharp
 * call; the loop has its own deadline, or an animation of 60,000 tiny frames would hold
 * its slot long after the client was told it timed out.
 */
async function eachFrame(
  img: Sharp,
  settings: PipelineSettings,
  map: (frame: RawFrame, timeout: { seconds: number }) => Promise<RawFrame>,
): Promise<Sharp> {
  const timeout = { seconds: Math.ceil(settings.timeoutMs / 1000) };
  const deadline = performance.now() + settings.timeoutMs;
  try {
    const strip = await img.timeout(timeout).raw().toBuffer({ resolveWithObject: true });
    const { width, channels } = strip.info;
    const height = strip.info.pageHeight ?? strip.info.height;
    const pages = Math.max(1, Math.round(strip.info.height / height));
    const frameBytes = width * height * channels;
    const frames: Buffer[] = [];
    let last: RawFrame = { data: strip.data, width, height, channels };
    for (let i = 0; i < pages; i++) {
      if (performance.now() > deadline) {
        throw new ImageError(
          "transform_timeout",
          `the transform took over ${settings.timeoutMs} ms`,
        );
      }
      const data = strip.data.subarray(i * frameBytes, (i + 1) * frameBytes);
      last = await map({ data, width, height, channels }, timeout);
      frames.push(last.data);
    }
    return sharp(Buffer.concat(frames), {
      raw: {
        width: last.width,
        height: last.height * pages,
        channels: last.channels,
        pageHeight: last.height,
      },
      // Without it sharp takes the strip for one tall image when resizing.
      animated: true,
      limitInputPixels: settings.maxInputPixels,
    }).timeout(timeout);
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw decodeError(err);
  }
}
