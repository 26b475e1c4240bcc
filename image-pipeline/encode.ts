/**
 * The encoder settings of each output format: quality from the options' word or number,
 * effort from the config (bench/image-effort.ts measures them), and an animation's frame
 * timing carried over.
 */
import type { Sharp } from "sharp";
import { type OutputFormat, qualityFor, type TransformSpec } from "../core/variant/index.ts";
import type { PipelineSettings } from "./settings.ts";

/** Set `img` to encode as `format`. */
export function encode(
  img: Sharp,
  format: OutputFormat,
  spec: TransformSpec,
  settings: PipelineSettings,
  timing: { delay?: number[] | undefined; loop?: number | undefined },
): Sharp {
  const anim = {
    // GIF stores delays in centiseconds up to 655 s; sharp takes at most 65535 ms.
    ...(timing.delay === undefined
      ? {}
      : { delay: timing.delay.map((d) => Math.min(Math.max(0, Math.round(d)), 65_535)) }),
    ...(timing.loop === undefined ? {} : { loop: timing.loop }),
  };
  switch (format) {
    case "jpeg":
      // JPEG has no alpha: transparency becomes the background colour, not black.
      return img
        .flatten({ background: spec.background })
        .jpeg({ quality: qualityFor(spec.quality, "jpeg"), progressive: spec.progressive });
    case "webp":
      return img.webp({
        quality: qualityFor(spec.quality, "webp"),
        effort: spec.fast ? 0 : settings.webpEffort,
        ...anim,
      });
    case "avif":
      return img.avif({
        quality: qualityFor(spec.quality, "avif"),
        effort: spec.fast ? 0 : settings.avifEffort,
      });
    case "png":
      return img.png({ compressionLevel: spec.fast ? 1 : 6 });
    case "gif":
      return img.gif(anim);
  }
}
