/**
 * The sharp transform: the only module that runs libvips on image bytes.
 *
 * A source is probed first (its header only: format, size, frames) and refused before
 * any decoding when it is not an image this pipeline takes or has more pixels than
 * allowed: a 100-byte PNG declaring 50,000 × 50,000 pixels costs a header read, not
 * 10 GB. Then one pipeline: EXIF auto-orientation, rotate/flip, resize by fit, blur or
 * sharpen, metadata (stripped unless asked), encode.
 */
import sharp, { type Metadata, type OutputInfo, type Region, type Sharp } from "sharp";
import { ImageError, type OutputFormat, type TransformSpec } from "../core/variant/index.ts";
import { decodeError } from "./decode-error.ts";
import { encode } from "./encode.ts";
import { copyrightFields } from "./exif.ts";
import { filterEachFrame, turnEachFrame } from "./frames.ts";
import { coverBox } from "./geometry.ts";
import type { PipelineSettings } from "./settings.ts";

export interface SourceInfo {
  readonly format: OutputFormat;
  /** Displayed size: after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  readonly pages: number;
}

export interface TransformResult {
  readonly data: Buffer;
  /** The source's header, as read: a later transform of the same bytes may reuse it. */
  readonly source: SourceHeader;
  readonly format: OutputFormat;
  readonly width: number;
  readonly height: number;
  /** The output keeps more than one frame. */
  readonly animated: boolean;
}

/** Formats a source may be in. SVG, PDF, TIFF and the rest are refused (attack surface). */
const INPUT: Readonly<Record<string, OutputFormat>> = {
  jpeg: "jpeg",
  png: "png",
  webp: "webp",
  gif: "gif",
  heif: "avif",
};

const ANIMATABLE: ReadonlySet<OutputFormat> = new Set(["webp", "gif"]);

/** What the transform needs from the header besides SourceInfo. */
export interface SourceExtras {
  exif?: Buffer | undefined;
  /** EXIF orientation, 1..8 (1: as stored). */
  orientation: number;
  /** Per-frame delays, ms, and loop count of an animation. */
  delay?: number[] | undefined;
  loop?: number | undefined;
}

/** Everything the transform reads from a source's header (probe). */
export type SourceHeader = SourceInfo & SourceExtras;

/** Read the source's header: format, displayed size, frames. Nothing is decoded. */
export async function probe(input: Buffer): Promise<SourceHeader> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw decodeError(err);
  }
  const format = meta.format === undefined ? undefined : INPUT[meta.format];
  if (format === undefined || (meta.format === "heif" && meta.compression !== "av1")) {
    throw new ImageError(
      "unsupported_image",
      `the source is ${meta.format ?? "not an image"}; transforms take JPEG, PNG, WebP, GIF or AVIF`,
    );
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.pageHeight ?? meta.height;
  if (!(width > 0 && height > 0)) throw new ImageError("corrupt_image", "the source has no size");
  return {
    format,
    width,
    height,
    pages: meta.pages ?? 1,
    exif: meta.exif,
    orientation: meta.orientation ?? 1,
    delay: meta.delay,
    loop: meta.loop,
  };
}

/**
 * Run one transform. libvips is told to stop at the time limit (whole seconds); the
 * queue (queue.ts) answers the client at the exact limit and holds the slot until
 * libvips has really stopped. `known`: this source's header, already read (while its
 * body arrived, or for an earlier variant of the same bytes); when absent or null the
 * header is read here, and every check below runs on it either way.
 */
export async function transform(
  input: Buffer,
  spec: TransformSpec,
  settings: PipelineSettings,
  known?: SourceHeader | null,
): Promise<TransformResult> {
  const src = known ?? (await probe(input));
  let format: OutputFormat = spec.format ?? src.format;
  const animatedIn = src.pages > 1 && spec.anim;
  // No AVIF encoder here keeps frames; every browser that decodes AVIF decodes WebP.
  if (animatedIn && format === "avif") format = "webp";
  const animated = animatedIn && ANIMATABLE.has(format);
  const pixels = src.width * src.height * (animated ? src.pages : 1);
  if (pixels > settings.maxInputPixels) {
    throw new ImageError(
      "too_many_pixels",
      `the source has ${pixels} pixels${animated ? " over its frames" : ""}; at most ${settings.maxInputPixels} are allowed`,
    );
  }

  let sw = src.width;
  let sh = src.height;
  if (spec.rotate === 90 || spec.rotate === 270) [sw, sh] = [sh, sw];
  // Every output frame is encoded: an animation's output is bounded like its input, or
  // a 200-byte GIF of a few 1-pixel frames asked for at 4096 px would cost seconds of
  // CPU and hundreds of megabytes per request.
  if (animated) {
    const out = outputSize(spec, sw, sh, settings);
    const outPixels = out.width * out.height * src.pages;
    if (outPixels > settings.maxInputPixels) {
      throw new ImageError(
        "too_many_pixels",
        `the output would have ${outPixels} pixels over its ${src.pages} frames; at most ${settings.maxInputPixels} are allowed (ask for a smaller size, or anim=false for one frame)`,
      );
    }
  }

  // An animation that must be turned a quarter or mirrored top to bottom is turned
  // frame by frame (frames.ts); sharp cannot do it on the strip of frames.
  const turnFrames =
    animated &&
    (src.orientation > 1 || spec.rotate !== 0 || spec.flip === "v" || spec.flip === "hv");
  let img: Sharp;
  if (turnFrames) img = await turnEachFrame(input, src.orientation, spec, settings);
  else {
    img = sharp(input, {
      autoOrient: true,
      animated,
      limitInputPixels: settings.maxInputPixels,
      failOn: "error",
      sequentialRead: true,
    }).timeout({ seconds: Math.ceil(settings.timeoutMs / 1000) });
    if (spec.rotate !== 0) img = img.rotate(spec.rotate);
    if (spec.flip === "h" || spec.flip === "hv") img = img.flop();
    if (spec.flip === "v" || spec.flip === "hv") img = img.flip();
  }

  img = resize(img, spec, sw, sh, settings, animated);
  const filter = (i: Sharp): Sharp => {
    let out = i;
    if (spec.blur !== null) out = out.blur(Math.max(0.3, spec.blur / 2));
    if (spec.sharpen !== null) out = out.sharpen({ sigma: 0.5 + spec.sharpen / 2 });
    return out;
  };
  // An animation's frames are filtered one by one (frames.ts): raw pixels again after.
  const filterFrames = animated && (spec.blur !== null || spec.sharpen !== null);
  if (filterFrames) img = await filterEachFrame(img, filter, settings);
  else img = filter(img);

  if (spec.metadata === "keep") img = img.keepMetadata();
  else if (spec.metadata === "copyright") {
    const fields = copyrightFields(src.exif);
    if (Object.keys(fields).length > 0) img = img.withExif({ IFD0: fields });
  }
  let out: { data: Buffer; info: OutputInfo };
  try {
    // Frames turned or filtered one by one are raw pixels again: the timing is the source's.
    img = encode(img, format, spec, settings, turnFrames || filterFrames ? src : {});
    out = await img.toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw decodeError(err);
  }
  const pageHeight = out.info.pageHeight ?? out.info.height;
  return {
    data: out.data,
    source: src,
    format,
    width: out.info.width,
    height: animated ? pageHeight : out.info.height,
    animated,
  };
}

function resize(
  img: Sharp,
  spec: TransformSpec,
  sw: number,
  sh: number,
  s: PipelineSettings,
  animated: boolean,
): Sharp {
  const { width: W, height: H, fit } = spec;
  if (W === null || H === null) {
    // One side (or none) given: keep the aspect ratio; the other side is bounded by the
    // output limit, so a 1:50 strip cannot come out 50 times the limit.
    const enlarge = W !== null || H !== null ? fit !== "scale-down" && fit !== "crop" : false;
    if (W === null && H === null && sw <= s.maxOutputWidth && sh <= s.maxOutputHeight) return img;
    return img.resize({
      width: W ?? s.maxOutputWidth,
      height: H ?? s.maxOutputHeight,
      fit: "inside",
      withoutEnlargement: !enlarge,
    });
  }
  switch (fit) {
    case "scale-down":
      return img.resize({ width: W, height: H, fit: "inside", withoutEnlargement: true });
    case "contain":
      return img.resize({ width: W, height: H, fit: "inside" });
    case "squeeze":
      return img.resize({ width: W, height: H, fit: "fill" });
    case "pad":
      return img.resize({ width: W, height: H, fit: "contain", background: spec.background });
    case "cover":
    case "crop": {
      const box = coverBox(sw, sh, W, H, fit === "cover");
      const g = spec.gravity;
      // sharp extracts the same region from every frame of an animation.
      if (g.kind === "point") {
        return img
          .resize({ width: box.scaledWidth, height: box.scaledHeight, fit: "fill" })
          .extract(pointCrop(box, g.x, g.y));
      }
      // libvips' attention strategy reads the strip of frames as one image and fails;
      // an animation is cropped about its centre.
      const position =
        g.kind === "auto" && !animated
          ? sharp.strategy.attention
          : g.kind === "side"
            ? g.side === "center"
              ? "centre"
              : g.side
            : "centre";
      return img.resize({ width: box.width, height: box.height, fit: "cover", position });
    }
  }
}

/**
 * The output's size as resize() will make it (to within rounding), worked out before
 * anything is decoded: what the animation bound checks.
 */
export function outputSize(
  spec: TransformSpec,
  sw: number,
  sh: number,
  settings: Pick<PipelineSettings, "maxOutputWidth" | "maxOutputHeight">,
): { width: number; height: number } {
  const { width: W, height: H, fit } = spec;
  const scaled = (scale: number) => ({
    width: Math.max(1, Math.round(sw * scale)),
    height: Math.max(1, Math.round(sh * scale)),
  });
  if (W === null || H === null) {
    if (
      W === null &&
      H === null &&
      sw <= settings.maxOutputWidth &&
      sh <= settings.maxOutputHeight
    ) {
      return { width: sw, height: sh };
    }
    const enlarge = W !== null || H !== null ? fit !== "scale-down" && fit !== "crop" : false;
    let scale = Math.min((W ?? settings.maxOutputWidth) / sw, (H ?? settings.maxOutputHeight) / sh);
    if (!enlarge) scale = Math.min(1, scale);
    return scaled(scale);
  }
  switch (fit) {
    case "scale-down":
      return scaled(Math.min(1, W / sw, H / sh));
    case "contain":
      return scaled(Math.min(W / sw, H / sh));
    case "squeeze":
    case "pad":
      return { width: W, height: H };
    case "cover":
    case "crop": {
      const box = coverBox(sw, sh, W, H, fit === "cover");
      return { width: box.width, height: box.height };
    }
  }
}

function pointCrop(
  box: { scaledWidth: number; scaledHeight: number; width: number; height: number },
  x: number,
  y: number,
): Region {
  const clamp = (v: number, max: number): number => Math.min(Math.max(0, Math.round(v)), max);
  return {
    left: clamp(x * box.scaledWidth - box.width / 2, box.scaledWidth - box.width),
    top: clamp(y * box.scaledHeight - box.height / 2, box.scaledHeight - box.height),
    width: box.width,
    height: box.height,
  };
}
