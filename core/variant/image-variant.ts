/**
 * Image variant negotiation: which format, width and dpr a request gets, and the short
 * variant id that enters the cache key. The Workers Cache API ignores Vary (it stores one
 * response per URL, whatever the request's Accept), so the negotiated variant must be
 * part of the key itself.
 */
import type { ImagesConfig } from "../config/schema.ts";
import { parseAccept, qualityOf } from "../http/accept.ts";
import { globToRegExp } from "../rules/glob.ts";

export type ImageFormat = "avif" | "webp" | "jpeg" | "png" | "gif";

const MEDIA_TYPES: Readonly<Record<ImageFormat, string>> = {
  avif: "image/avif",
  webp: "image/webp",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
};

/** The Content-Type of a format. */
export function mediaTypeOf(format: ImageFormat): string {
  return MEDIA_TYPES[format];
}

// A Map, not an object literal: the extension comes from the request path, and on a plain
// object ".constructor" or ".__proto__" would find Object.prototype's members and pass a
// function or an object on as the image's format.
const EXTENSIONS: ReadonlyMap<string, ImageFormat> = new Map<string, ImageFormat>([
  ["jpg", "jpeg"],
  ["jpeg", "jpeg"],
  ["jpe", "jpeg"],
  ["jfif", "jpeg"],
  ["png", "png"],
  ["gif", "gif"],
  ["webp", "webp"],
  ["avif", "avif"],
]);

/** The format an image path names by its extension (case-insensitive), or null. */
export function originalFormatFromPath(path: string): ImageFormat | null {
  const dot = path.lastIndexOf(".");
  if (dot === -1 || path.indexOf("/", dot) !== -1) return null; // no extension in the last segment
  return EXTENSIONS.get(path.slice(dot + 1).toLowerCase()) ?? null;
}

/**
 * Pick the format to serve.
 *
 * Only formats the client names explicitly count (`image/avif`, `image/webp` with q > 0):
 * `image/*` and `*\/*` do not, because browsers that predate WebP/AVIF send exactly those
 * (old Safari, IE, many HTTP libraries) and cannot decode the result. Among the
 * configured formats the client names, the highest q wins and configuration order
 * breaks ties. Otherwise the original, unless the original is itself AVIF or WebP that
 * the client did not name: then PNG, which every client decodes and which, unlike JPEG,
 * keeps transparency.
 */
export function negotiateFormat(
  accept: string | null | undefined,
  original: ImageFormat,
  images: ImagesConfig,
): ImageFormat {
  const ranges = parseAccept(accept);
  let best: ImageFormat | null = null;
  let bestQ = 0;
  for (const format of images.formats) {
    const q = qualityOf(ranges, "image", format, { explicitOnly: true });
    if (q > bestQ) {
      best = format;
      bestQ = q;
    }
  }
  if (best !== null) return best;
  if (original === "avif" || original === "webp") {
    return qualityOf(ranges, "image", original, { explicitOnly: true }) > 0 ? original : "png";
  }
  return original;
}

// Compiled once per `paths` array; the config never changes after validation.
const compiledPaths = new WeakMap<readonly string[], readonly RegExp[]>();

/**
 * Whether a (normalised) path is an image whose format is negotiated. Matched
 * case-insensitively, because cameras and CMSs write `.JPG` as often as `.jpg`.
 */
export function isNegotiableImagePath(path: string, images: ImagesConfig): boolean {
  let res = compiledPaths.get(images.paths);
  if (res === undefined) {
    res = images.paths.map((g) => globToRegExp(g, { caseInsensitive: true }));
    compiledPaths.set(images.paths, res);
  }
  for (const re of res) if (re.test(path)) return true;
  return false;
}

/** Smallest step ≥ value, else the largest step; a non-positive or NaN value → the smallest. */
function roundUp(value: number, steps: readonly number[]): number {
  if (steps.length === 0) return value;
  if (!(value > 0)) return steps[0] as number;
  for (const step of steps) if (step >= value) return step;
  return steps[steps.length - 1] as number;
}

/**
 * Round a requested width up to a configured step, so the variant is never smaller than
 * asked (no quality loss) and the number of variants per image stays bounded. Above the
 * largest step → the largest step.
 */
export function roundWidth(width: number, widths: readonly number[]): number {
  return roundUp(width, widths);
}

/** Round a device pixel ratio up to a configured step, capped at the largest. */
export function roundDpr(dpr: number, dprs: readonly number[]): number {
  return roundUp(dpr, dprs);
}

export interface ImageVariant {
  readonly format: ImageFormat;
  readonly width?: number | undefined;
  readonly dpr?: number | undefined;
}

/**
 * Stable short id of a variant for the cache key: "avif", "webp;w=640", "webp;w=640;dpr=2".
 * Fields always appear in this order; dpr 1 is omitted because it renders the same
 * image as no dpr, so the two must share an entry.
 */
export function variantId(variant: ImageVariant): string {
  let id: string = variant.format;
  if (variant.width !== undefined) id += `;w=${variant.width}`;
  if (variant.dpr !== undefined && variant.dpr !== 1) id += `;dpr=${variant.dpr}`;
  return id;
}
