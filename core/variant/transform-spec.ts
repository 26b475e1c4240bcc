/**
 * Transform options, resolved: pure, no sharp, so the edge and the shield resolve a
 * transform URL alike. transform-url.ts has already checked the syntax (Cloudflare's
 * names, aliases, value shapes); this module turns the options into the exact transform
 * to run and refuses what the pipeline will not do.
 *
 * Resolution is where distinct variants are bounded: widths are taken as asked (or round
 * up to configured steps, or must be one: widthPolicy), dpr rounds up to a step and is folded
 * into the pixel size, sizes are clamped to the output limits, and defaults are written
 * out. Two URLs that resolve alike (`w=700` and `width=720`, `w=320,dpr=2` and
 * `w=640`) name one variant: `transformVariantId` is the key's part, so they share one
 * cache entry and one transform.
 */

import { QUALITY_WORDS } from "../config/images-schema.ts";
import type { ImagesConfig } from "../config/schema.ts";
import { parseColour, type Rgba, WHITE } from "./colour.ts";
import { ImageError } from "./image-error.ts";
import { roundDpr, roundWidth } from "./image-variant.ts";

export type Fit = "scale-down" | "contain" | "cover" | "crop" | "pad" | "squeeze";
export type OutputFormat = "avif" | "webp" | "jpeg" | "png" | "gif";
export type QualityWord = (typeof QUALITY_WORDS)[number];
export type Side = "left" | "right" | "top" | "bottom" | "center";
export type Gravity =
  | { readonly kind: "auto" }
  | { readonly kind: "side"; readonly side: Side }
  /** A focal point, 0..1 from the left and from the top. */
  | { readonly kind: "point"; readonly x: number; readonly y: number };

export interface TransformSpec {
  /** Output box in pixels, dpr applied and clamped; null: not constrained. */
  readonly width: number | null;
  readonly height: number | null;
  readonly fit: Fit;
  readonly gravity: Gravity;
  readonly quality: number | QualityWord;
  /** null: the source's own format. */
  readonly format: OutputFormat | null;
  /** false only for format=baseline-jpeg. */
  readonly progressive: boolean;
  readonly metadata: "none" | "copyright" | "keep";
  /** Fill for fit=pad (and for transparency flattened into JPEG). */
  readonly background: Rgba;
  /** Keep animation where the output format allows it. */
  readonly anim: boolean;
  readonly rotate: 0 | 90 | 180 | 270;
  readonly flip: "h" | "v" | "hv" | null;
  /** Gaussian blur radius (Cloudflare's 1..250), null: none. */
  readonly blur: number | null;
  /** Sharpen strength 0..10, null: none. */
  readonly sharpen: number | null;
  /** compression=fast: the encoders' lowest effort. */
  readonly fast: boolean;
  /**
   * onerror=redirect (Cloudflare's option): when the variant cannot be made from its
   * source, answer 302 to the source instead of an error. Part of the variant's identity,
   * since its error answers differ.
   */
  readonly onError: "redirect" | null;
}

/** Options Cloudflare has and this pipeline does not run: refused by name, not ignored. */
const UNSUPPORTED: ReadonlySet<string> = new Set([
  "brightness",
  "contrast",
  "gamma",
  "saturation",
  "trim",
]);

/**
 * Resolve parsed options (canonical names; `format=auto` already replaced by the
 * negotiated format, and `sig` already checked) into the transform to run.
 * Throws ImageError naming the option.
 */
export function resolveTransform(
  options: ReadonlyMap<string, string>,
  images: ImagesConfig,
): TransformSpec {
  for (const name of options.keys()) {
    if (UNSUPPORTED.has(name)) {
      throw new ImageError("unsupported_option", `${name} is not supported by this CDN`, {
        option: name,
      });
    }
  }
  const get = (name: string): string | undefined => options.get(name);
  const limits = images.limits;

  // dpr=auto is resolved from Client Hints before this point (client-hints.ts
  // resolveAutoSize); one that reaches here is read as no dpr, as no hints would make it.
  const dprText = get("dpr");
  const dpr =
    dprText === undefined || dprText === "auto" ? 1 : roundDpr(Number(dprText), images.dprs);

  // The pixel size (CSS size × dpr) is what rounds to a step: `w=320,dpr=2` and `w=640`
  // are one variant. With both sides, the height follows the width's scale.
  let width: number | null = null;
  let height: number | null = null;
  const w = get("width");
  const h = get("height");
  if (w !== undefined && w !== "auto") {
    const asked = Number(w);
    width = pixels("width", asked, dpr, images);
    if (h !== undefined) height = Math.max(1, Math.round((Number(h) * width) / asked));
  } else if (h !== undefined) {
    height = pixels("height", Number(h), dpr, images);
  }
  // Clamp to the output limits; one factor for both keeps the box's aspect ratio.
  const f = Math.min(
    1,
    width === null ? 1 : limits.maxOutputWidth / width,
    height === null ? 1 : limits.maxOutputHeight / height,
  );
  if (width !== null) width = Math.max(1, Math.round(width * f));
  if (height !== null) height = Math.max(1, Math.round(height * f));

  const formatText = get("format");
  let format: OutputFormat | null = null;
  let progressive = true;
  switch (formatText) {
    case undefined:
      break;
    case "baseline-jpeg":
      format = "jpeg";
      progressive = false;
      break;
    case "json":
      throw new ImageError("unsupported_option", "format=json is not supported by this CDN", {
        option: "format",
      });
    case "auto":
      // Resolved before this point (core resolveAutoFormat); reaching here is a bug in
      // the caller, and transforming to "the source's format" is the safe reading.
      break;
    default:
      format = formatText as OutputFormat;
  }

  const q = get("quality");
  const quality: number | QualityWord =
    q === undefined
      ? images.defaultQuality
      : (QUALITY_WORDS as readonly string[]).includes(q)
        ? (q as QualityWord)
        : Number(q);

  const bg = get("background");
  const background = bg === undefined ? WHITE : parseColour(bg);

  const rotate = Number(get("rotate") ?? 0) as 0 | 90 | 180 | 270;
  const blurText = get("blur");
  const sharpenText = get("sharpen");
  const sharpen =
    sharpenText === undefined || Number(sharpenText) === 0 ? null : Number(sharpenText);

  // Options that cannot change the output are written as their default, so they do not
  // make a variant of their own: without a box (both sides) every fit only says whether
  // to enlarge, and gravity only steers cover and crop.
  const box = width !== null && height !== null;
  let fit = (get("fit") as Fit | undefined) ?? "scale-down";
  if (!box) fit = fit === "scale-down" || fit === "crop" ? "scale-down" : "contain";
  const crops = box && (fit === "cover" || fit === "crop");
  return {
    width,
    height,
    fit,
    gravity: crops ? parseGravity(get("gravity")) : CENTER,
    quality,
    format,
    progressive,
    metadata: (get("metadata") as TransformSpec["metadata"] | undefined) ?? "none",
    background,
    anim: get("anim") !== "false",
    rotate,
    flip: (get("flip") as TransformSpec["flip"] | undefined) ?? null,
    blur: blurText === undefined ? null : Number(blurText),
    sharpen,
    fast: get("compression") === "fast",
    onError: get("onerror") === "redirect" ? "redirect" : null,
  };
}

/**
 * A transform variant's identity: every resolved field, in a fixed order. It goes into
 * the cache key (with the source path) and the ETag, so it must change whenever the
 * output would. (A negotiated image without transform options is named by
 * image-variant.ts variantId instead.)
 */
export function transformVariantId(spec: TransformSpec): string {
  const g = spec.gravity;
  const gravity = g.kind === "auto" ? "auto" : g.kind === "side" ? g.side : `${g.x}x${g.y}`;
  const bg = spec.background;
  const parts = [
    `w=${spec.width ?? "-"}`,
    `h=${spec.height ?? "-"}`,
    `fit=${spec.fit}`,
    `g=${gravity}`,
    `q=${spec.quality}`,
    `f=${spec.format ?? "source"}${spec.progressive ? "" : "-baseline"}`,
    `meta=${spec.metadata}`,
    `bg=${bg.r}.${bg.g}.${bg.b}.${bg.alpha}`,
    `anim=${spec.anim ? 1 : 0}`,
    `rot=${spec.rotate}`,
    `flip=${spec.flip ?? "-"}`,
    `blur=${spec.blur ?? "-"}`,
    `sharpen=${spec.sharpen ?? "-"}`,
    `fast=${spec.fast ? 1 : 0}`,
  ];
  // Written only when set, so every other variant keeps the id it had.
  if (spec.onError !== null) parts.push(`onerror=${spec.onError}`);
  return parts.join(",");
}

/**
 * The path a variant is cached under: every transform URL that resolves to the same
 * options (aliases, order, widths that round to one step) names this one path. The shield
 * keys and indexes variants by it; the edge keys by it too (with any signature).
 */
export function variantPath(prefix: string, id: string, source: string): string {
  return `${prefix}${id}${source}`;
}

/** Per-format quality for a word; a number applies to every format (as Cloudflare's does). */
const WORD_QUALITY: Readonly<Record<QualityWord, { jpeg: number; webp: number; avif: number }>> = {
  high: { jpeg: 90, webp: 90, avif: 75 },
  "medium-high": { jpeg: 85, webp: 85, avif: 60 },
  "medium-low": { jpeg: 75, webp: 75, avif: 50 },
  low: { jpeg: 60, webp: 60, avif: 40 },
};

/** The encoder quality for a format. */
export function qualityFor(
  quality: number | QualityWord,
  format: "jpeg" | "webp" | "avif",
): number {
  return typeof quality === "number" ? quality : WORD_QUALITY[quality][format];
}

/**
 * A side's pixel size: with "exact", CSS size × dpr as asked (as Cloudflare, imgix and
 * imgproxy give it; the variants one source can have are bounded by
 * limits.maxVariantsPerSource and, when configured, by signing); with "round-up", rounded
 * up to a step; with "allow-list", the CSS size must be a step and is multiplied by the
 * (stepped) dpr, so the sizes are bounded by the steps.
 */
function pixels(
  option: "width" | "height",
  asked: number,
  dpr: number,
  images: ImagesConfig,
): number {
  const steps = images.widths;
  if (images.widthPolicy === "exact") return Math.round(asked * dpr);
  if (images.widthPolicy === "round-up") return roundWidth(asked * dpr, steps);
  if (!steps.includes(asked)) {
    throw new ImageError(
      "width_not_allowed",
      `${option}=${asked} is not one of the allowed sizes ${steps.join(", ")}`,
      { option },
    );
  }
  return Math.round(asked * dpr);
}

const CENTER: Gravity = { kind: "side", side: "center" };

function parseGravity(text: string | undefined): Gravity {
  switch (text) {
    case undefined:
    case "center":
      return { kind: "side", side: "center" };
    // Face detection is not built in: a face request crops on saliency, like auto.
    case "auto":
    case "face":
      return { kind: "auto" };
    case "left":
    case "right":
    case "top":
    case "bottom":
      return { kind: "side", side: text };
    default: {
      const [x, y] = text.split("x").map(Number) as [number, number];
      return { kind: "point", x, y };
    }
  }
}
