/**
 * Client Hints (RFC 8942) for transform URLs: `width=auto` and `dpr=auto` take their
 * values from the hints a browser sends with an image request, and HTML responses can
 * ask browsers to send them.
 *
 * The hints are the Responsive Image Client Hints (WICG): `Sec-CH-Width`, the width the
 * image will be drawn at in device pixels; `Sec-CH-Viewport-Width`, the layout viewport in
 * CSS pixels; `Sec-CH-DPR`, device pixels per CSS pixel. Their unprefixed forms (`Width`,
 * `Viewport-Width`, `DPR`, from the drafts before RFC 8942) are read too, for browsers
 * that still send them; the `Sec-CH-` form wins when both are valid.
 *
 * Both tiers resolve `auto` here, before keying: the edge rewrites the URL it keys and
 * forwards into concrete values (as it does for format=auto), and the shield resolves a
 * request that reaches it directly from the same headers the same way. Every value is
 * rounded up to a configured step (images.widths, images.dprs), so a client cannot make
 * more variants than there are steps, whatever it sends.
 */
import type { ImagesConfig } from "../config/schema.ts";
import { roundDpr, roundWidth } from "./image-variant.ts";
import type { TransformUrl } from "./transform-url.ts";

/** The hints of one request, parsed; null when absent or malformed. */
export interface ClientHints {
  /** Sec-CH-Width (or Width): the image's display width, device pixels. */
  readonly width: number | null;
  /** Sec-CH-Viewport-Width (or Viewport-Width): the layout viewport's width, CSS pixels. */
  readonly viewportWidth: number | null;
  /** Sec-CH-DPR (or DPR): device pixels per CSS pixel. */
  readonly dpr: number | null;
}

export const NO_CLIENT_HINTS: ClientHints = { width: null, viewportWidth: null, dpr: null };

/** What the hints are read from: a Headers object, or a tier's own header reader. */
export interface HintFields {
  get(name: string): string | null | undefined;
}

// Whole pixels, at most nine digits: anything longer is not a width a screen has, and
// is ignored rather than parsed into a float. Every width still rounds to a step.
const PIXELS = /^[0-9]{1,9}$/;
// A ratio as a decimal (Structured Fields allow at most three fraction digits, RFC 8941
// §3.3.2; a legacy DPR may carry more, and they change no step it rounds to).
const RATIO = /^[0-9]{1,3}(?:\.[0-9]{1,6})?$/;

/**
 * The last member of a field's value, without surrounding whitespace. A field sent twice
 * arrives joined with commas; like a list-valued field, the last instance is the one the
 * responsive image hints say to use.
 */
function lastMember(value: string): string {
  const comma = value.lastIndexOf(",");
  return (comma === -1 ? value : value.slice(comma + 1)).trim();
}

function readPixels(fields: HintFields, name: string, legacy: string): number | null {
  for (const field of [name, legacy]) {
    const value = fields.get(field);
    if (value == null) continue;
    const text = lastMember(value);
    if (PIXELS.test(text) && Number(text) > 0) return Number(text);
  }
  return null;
}

function readRatio(fields: HintFields): number | null {
  for (const field of ["sec-ch-dpr", "dpr"]) {
    const value = fields.get(field);
    if (value == null) continue;
    const text = lastMember(value);
    if (RATIO.test(text) && Number(text) > 0) return Number(text);
  }
  return null;
}

/**
 * The Client Hints of a request. Malformed values (not a number, zero, negative, a
 * fraction of a pixel, absurdly long) are ignored as if absent, never an error: a hint
 * is advice, and the request stands without it (RFC 8942 §2.2: a server may use them).
 */
export function readClientHints(fields: HintFields): ClientHints {
  return {
    width: readPixels(fields, "sec-ch-width", "width"),
    viewportWidth: readPixels(fields, "sec-ch-viewport-width", "viewport-width"),
    dpr: readRatio(fields),
  };
}

/**
 * The request fields a response chosen by hints varies on (RFC 8942 §2.2: a cacheable
 * response selected by hints lists them in Vary). width=auto reads all three hints (the
 * viewport width is scaled by the ratio); dpr=auto reads the ratio only. The unprefixed
 * forms are read too, so they are listed too.
 */
const WIDTH_FIELDS: readonly string[] = [
  "Sec-CH-Width",
  "Width",
  "Sec-CH-Viewport-Width",
  "Viewport-Width",
  "Sec-CH-DPR",
  "DPR",
];
const DPR_FIELDS: readonly string[] = ["Sec-CH-DPR", "DPR"];
const NO_FIELDS: readonly string[] = [];

/** Whether a transform asks for a value from Client Hints (width=auto or dpr=auto). */
export function usesClientHints(transform: TransformUrl): boolean {
  return transform.options.get("width") === "auto" || transform.options.get("dpr") === "auto";
}

/**
 * The image's width in device pixels from the hints: Sec-CH-Width as sent, else the
 * viewport's width scaled by the ratio (rounded up to a step first, so that two ratios
 * of one step give one width). Null: nothing says how wide the image is drawn.
 */
function hintedWidth(hints: ClientHints, images: ImagesConfig): number | null {
  if (hints.width !== null) return hints.width;
  if (hints.viewportWidth === null) return null;
  const ratio = hints.dpr === null ? 1 : roundDpr(hints.dpr, images.dprs);
  return Math.ceil(hints.viewportWidth * ratio);
}

export interface AutoSize {
  /** The transform with width=auto and dpr=auto replaced by values, or left out. */
  readonly transform: TransformUrl;
  /** The request fields the result depends on, for Vary; empty when none. */
  readonly vary: readonly string[];
}

/**
 * Replace `width=auto` and `dpr=auto` by the values these hints give, so the key, the
 * forwarded URL and the pipeline see concrete options.
 *
 * width=auto becomes the hinted width (device pixels) rounded up to a step of
 * images.widths, and then a dpr=auto beside it is left out: the width already counts the
 * device's pixels, and scaling it again would double them. Without a width hint the
 * option is left out: no resize, as width=auto always meant here.
 *
 * dpr=auto (with a concrete width or height, or a width=auto no hint resolved) becomes
 * Sec-CH-DPR rounded up to a step of images.dprs (capped at the largest), and is left out
 * when that is 1 or there is no hint: a dpr of 1 renders what no dpr renders.
 *
 * With images.clientHints.enabled off, both resolve as if no hints were sent and nothing
 * varies. An explicit width or dpr is never touched. Options keep their canonical order.
 * A URL whose only options are autos that resolve to nothing keeps them as written.
 */
export function resolveAutoSize(
  transform: TransformUrl,
  hints: ClientHints,
  images: ImagesConfig,
): AutoSize {
  const width = transform.options.get("width");
  const dpr = transform.options.get("dpr");
  if (width !== "auto" && dpr !== "auto") return { transform, vary: NO_FIELDS };
  const enabled = images.clientHints.enabled;
  const used = enabled ? hints : NO_CLIENT_HINTS;
  const options = new Map(transform.options);
  let widthFromHint = false;
  if (width === "auto") {
    const pixels = hintedWidth(used, images);
    if (pixels === null) options.delete("width");
    else {
      options.set("width", String(roundWidth(pixels, images.widths)));
      widthFromHint = true;
    }
  }
  if (dpr === "auto") {
    const ratio = widthFromHint || used.dpr === null ? 1 : roundDpr(used.dpr, images.dprs);
    if (ratio === 1) options.delete("dpr");
    else options.set("dpr", String(ratio));
  }
  const vary = !enabled ? NO_FIELDS : width === "auto" ? WIDTH_FIELDS : DPR_FIELDS;
  // A transform URL has at least one option (`<prefix><options>/<source>`): when its only
  // options were autos that resolved to nothing, they stay as written, which means the
  // same (resolveTransform reads an unresolved auto as no width and a dpr of 1), and a
  // shield that resolves them again from the same fields leaves them alike.
  if (options.size === 0) return { transform, vary };
  return { transform: { options, source: transform.source }, vary };
}

/**
 * The values `width=auto` may resolve to (as written in a resolved URL), for a signature
 * made over width=auto: every step, when hints are honoured.
 */
export function autoWidthChoices(images: ImagesConfig): readonly number[] {
  return images.clientHints.enabled ? images.widths : NO_NUMBERS;
}

/**
 * The values `dpr=auto` may resolve to and still be written (1 is left out), when hints
 * are honoured.
 */
export function autoDprChoices(images: ImagesConfig): readonly number[] {
  return images.clientHints.enabled ? images.dprs.filter((ratio) => ratio !== 1) : NO_NUMBERS;
}

const NO_NUMBERS: readonly number[] = [];

/** The hints HTML responses ask for (Accept-CH), in the Sec-CH- form browsers send today. */
export const ADVERTISED_HINTS: readonly string[] = [
  "Sec-CH-DPR",
  "Sec-CH-Width",
  "Sec-CH-Viewport-Width",
];

/** Accept-CH and Critical-CH for a response, merged with what it already carries. */
export interface HintAdvertisement {
  readonly acceptCh: string;
  /** null: leave Critical-CH as it is. */
  readonly criticalCh: string | null;
}

/**
 * What an HTML response should carry to ask for the hints, or null to leave it alone
 * (advertising is off, or the response is not HTML).
 *
 * Accept-CH (RFC 8942 §3.1) on a document's response makes the browser send the hints
 * with that document's subresource requests (the WICG Client Hints Infrastructure), so
 * HTML responses are the ones that need it; images gain nothing from it. The origin's
 * own Accept-CH (hints it uses for its pages) is kept and ours are added to it, matched
 * case-insensitively. Critical-CH (the Client Hint Reliability draft) makes a browser
 * that sent none of the listed hints retry the navigation with them; it names the same
 * hints, and must be a subset of Accept-CH.
 */
export function clientHintsAdvertisement(
  contentType: string | null | undefined,
  current: { readonly acceptCh: string | null; readonly criticalCh: string | null },
  images: ImagesConfig,
): HintAdvertisement | null {
  const settings = images.clientHints;
  if (!settings.advertise || !isHtml(contentType)) return null;
  return {
    acceptCh: mergeTokens(current.acceptCh, ADVERTISED_HINTS),
    criticalCh: settings.critical ? mergeTokens(current.criticalCh, ADVERTISED_HINTS) : null,
  };
}

/** text/html or application/xhtml+xml, by the media type before any parameters. */
function isHtml(contentType: string | null | undefined): boolean {
  if (contentType == null) return false;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon))
    .trim()
    .toLowerCase();
  return type === "text/html" || type === "application/xhtml+xml";
}

/** A comma-separated token list with `added` appended where missing (case-insensitive). */
function mergeTokens(current: string | null, added: readonly string[]): string {
  const present = (current ?? "")
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token !== "");
  const seen = new Set(present.map((token) => token.toLowerCase()));
  for (const token of added) if (!seen.has(token.toLowerCase())) present.push(token);
  return present.join(", ");
}
