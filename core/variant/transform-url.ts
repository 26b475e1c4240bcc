/**
 * Image transform URLs: `<prefix><options>/<source path>`, e.g.
 * `/img/width=640,fit=cover,format=auto/photos/cat.jpg`, with Cloudflare Images' option
 * names and short aliases (`w`, `h`, `q`, `f`, `g`), so users can move between the two.
 *
 * This module checks the options' syntax, enough to answer garbage with a 400 that says
 * what is wrong, and writes them in one canonical form (full names, sorted, numbers
 * without leading zeros) so that `w=640,f=auto` and `format=auto,width=640` share a
 * cache entry. It does not check what the image pipeline can do with them (pixel
 * bounds, combinations): that is the pipeline's job, behind the shield.
 */
import type { ImagesConfig } from "../config/schema.ts";
import { negotiateFormat, originalFormatFromPath } from "./image-variant.ts";

type Check = (value: string) => string | null;

const INTEGER = /^[0-9]{1,6}$/;
const DECIMAL = /^[0-9]{1,6}(?:\.[0-9]{1,6})?$/;

/** Canonical number text (no leading zeros, no trailing ".0"). */
function canonicalNumber(value: string): string {
  return String(Number(value));
}

function oneOf(...values: string[]): Check {
  return (v) => (values.includes(v) ? null : `must be one of ${values.join(", ")}`);
}

function integerIn(min: number, max: number, ...words: string[]): Check {
  return (v) => {
    if (words.includes(v)) return null;
    const alt = words.length > 0 ? ` or ${words.join(", ")}` : "";
    if (!INTEGER.test(v) || Number(v) < min || Number(v) > max) {
      return `must be a whole number from ${min} to ${max}${alt}`;
    }
    return null;
  };
}

function decimalIn(min: number, max: number): Check {
  return (v) =>
    DECIMAL.test(v) && Number(v) >= min && Number(v) <= max
      ? null
      : `must be a number from ${min} to ${max}`;
}

function orAuto(check: Check): Check {
  return (v) => {
    if (v === "auto") return null;
    const problem = check(v);
    return problem === null ? null : `${problem} or auto`;
  };
}

const GRAVITY_POINT =
  /^(?:0(?:\.[0-9]{1,4})?|1(?:\.0{1,4})?)x(?:0(?:\.[0-9]{1,4})?|1(?:\.0{1,4})?)$/;
const SIGNATURE = /^[A-Za-z0-9_-]{16,128}$/;
const TRIM = /^[0-9]{1,5}(?:;[0-9]{1,5}){3}$/;
// A CSS colour as Cloudflare takes it: a name, #rgb(a) hex ("#" arrives as %23 in a
// normalised path), or rgb()/rgba()/hsl() forms.
const COLOUR = /^(?:[a-z]{3,20}|(?:#|%23)[0-9a-f]{3,8}|(?:rgba?|hsla?)\([0-9.,%]{1,40}\))$/i;

/** Cloudflare Images option names, their checks, and whether the value is numeric. */
const OPTIONS: ReadonlyMap<string, { check: Check; numeric: boolean }> = new Map([
  ["anim", { check: oneOf("true", "false"), numeric: false }],
  [
    "background",
    { check: (v) => (COLOUR.test(v) ? null : "must be a CSS colour"), numeric: false },
  ],
  ["blur", { check: integerIn(1, 250), numeric: true }],
  ["brightness", { check: decimalIn(0, 10), numeric: true }],
  ["compression", { check: oneOf("fast"), numeric: false }],
  ["contrast", { check: decimalIn(0, 10), numeric: true }],
  // dpr=auto takes the device pixel ratio from Client Hints (client-hints.ts).
  ["dpr", { check: orAuto(decimalIn(0.1, 10)), numeric: true }],
  [
    "fit",
    { check: oneOf("scale-down", "contain", "cover", "crop", "pad", "squeeze"), numeric: false },
  ],
  ["flip", { check: oneOf("h", "v", "hv"), numeric: false }],
  [
    "format",
    {
      check: oneOf("auto", "avif", "webp", "jpeg", "baseline-jpeg", "png", "gif", "json"),
      numeric: false,
    },
  ],
  ["gamma", { check: decimalIn(0, 10), numeric: true }],
  [
    "gravity",
    {
      check: (v) =>
        ["auto", "face", "left", "right", "top", "bottom", "center"].includes(v) ||
        GRAVITY_POINT.test(v)
          ? null
          : 'must be auto, face, left, right, top, bottom, center or a point "0.5x0.3"',
      numeric: false,
    },
  ],
  ["height", { check: integerIn(1, 100_000), numeric: true }],
  ["metadata", { check: oneOf("keep", "copyright", "none"), numeric: false }],
  ["onerror", { check: oneOf("redirect"), numeric: false }],
  [
    "quality",
    { check: integerIn(1, 100, "high", "medium-high", "medium-low", "low"), numeric: true },
  ],
  ["rotate", { check: oneOf("0", "90", "180", "270"), numeric: false }],
  ["saturation", { check: decimalIn(0, 10), numeric: true }],
  ["sharpen", { check: decimalIn(0, 10), numeric: true }],
  [
    "trim",
    {
      check: (v) => (TRIM.test(v) ? null : 'must be "top;right;bottom;left" in pixels'),
      numeric: false,
    },
  ],
  ["width", { check: integerIn(1, 100_000, "auto"), numeric: true }],
  [
    // HMAC signature of the other options and the source (image-pipeline/signing.ts).
    "sig",
    {
      check: (v) => (SIGNATURE.test(v) ? null : "must be a base64url signature"),
      numeric: false,
    },
  ],
]);

/** Cloudflare's short names. */
const ALIASES: Readonly<Record<string, string>> = {
  w: "width",
  h: "height",
  q: "quality",
  f: "format",
  g: "gravity",
};

/** Most options one URL may carry: one of each known name. */
const MAX_OPTIONS = OPTIONS.size;

export interface TransformUrl {
  /** Canonical options: full names, sorted by name. */
  readonly options: ReadonlyMap<string, string>;
  /** The source image's path, starting with "/". */
  readonly source: string;
}

/** Why a transform URL was refused: a stable code, and the option at fault when one is. */
export type TransformParseCode = "invalid_options" | "unknown_option" | "invalid_option";

export type TransformParse =
  | { readonly ok: true; readonly transform: TransformUrl }
  | {
      readonly ok: false;
      readonly code: TransformParseCode;
      readonly option?: string | undefined;
      readonly message: string;
    };

/** Whether a normalised path is a transform URL under `prefix` (e.g. "/img/"). */
export function isTransformPath(path: string, prefix: string): boolean {
  return path.startsWith(prefix);
}

/**
 * The path that picks a transform's origin: its source image's path (what will be
 * fetched), or the path itself when it is not a transform. The edge and the shield
 * route alike, so a configured `pathPrefix` works for transforms of its images.
 */
export function transformSourcePath(path: string, prefix: string): string {
  if (!path.startsWith(prefix)) return path;
  const slash = path.indexOf("/", prefix.length);
  return slash < 0 ? path : path.slice(slash);
}

/**
 * Parse a transform path. The caller has checked `isTransformPath`. Errors are written
 * for the person who typed the URL: they name the option and what it must be.
 */
export function parseTransformPath(path: string, prefix: string): TransformParse {
  const rest = path.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) {
    return fail(`expected ${prefix}<options>/<path of the image>, e.g. ${prefix}width=640/a.jpg`);
  }
  const source = rest.slice(slash);
  if (source === "/") return fail("the path of the source image is missing");
  // Cloudflare also takes an absolute URL here; this CDN only transforms its own origins'
  // images, so a URL is refused up front rather than treated as a path.
  if (/^\/[a-z][a-z0-9+.-]*:/i.test(source)) {
    return fail("the source must be a path on this site, not a URL");
  }
  // A transform of a transform would let one URL chain any number of transforms.
  if (source.startsWith(prefix)) return fail("the source must not itself be a transform URL");
  const parts = splitOptions(rest.slice(0, slash));
  if (parts.length > MAX_OPTIONS) return fail(`at most ${MAX_OPTIONS} options`);
  const found = new Map<string, string>();
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq <= 0 || eq === part.length - 1) {
      return fail(`option "${clip(part)}" must be written name=value`, "invalid_options");
    }
    const written = part.slice(0, eq);
    // The written name is the client's: only the table's own entries are aliases.
    const name = Object.hasOwn(ALIASES, written) ? (ALIASES[written] as string) : written;
    const spec = OPTIONS.get(name);
    if (spec === undefined) {
      return fail(`unknown option "${clip(written)}"`, "unknown_option", clip(written));
    }
    if (found.has(name)) return fail(`option "${name}" is given twice`, "invalid_option", name);
    const value = part.slice(eq + 1);
    const problem = spec.check(value);
    if (problem !== null) return fail(`${name}=${clip(value)}: ${problem}`, "invalid_option", name);
    found.set(name, spec.numeric && DECIMAL.test(value) ? canonicalNumber(value) : value);
  }
  const options = new Map([...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { ok: true, transform: { options, source } };
}

/**
 * Split on the commas between options, not those inside parentheses: a colour such as
 * `background=rgb(255,0,0)` keeps its commas.
 */
function splitOptions(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x28) depth++;
    else if (c === 0x29) depth = Math.max(0, depth - 1);
    else if (c === 0x2c && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** The canonical path of a transform: `<prefix>a=1,b=2/<source>`. */
export function formatTransformPath(prefix: string, transform: TransformUrl): string {
  const opts = [...transform.options].map(([k, v]) => `${k}=${v}`).join(",");
  return `${prefix}${opts}${transform.source}`;
}

/**
 * Replace `format=auto` by the format this client gets (AVIF, then WebP, then the
 * original, as `images.formats` orders them; core/variant negotiateFormat), so the
 * shield's key and the pipeline see a concrete format. When the source's format is
 * unknown (no image extension) and the client names no modern format, the option is
 * dropped: the pipeline keeps the source's own format. `auto` is reported, so the
 * response can say `Vary: Accept`.
 */
export function resolveAutoFormat(
  transform: TransformUrl,
  accept: string | null | undefined,
  images: ImagesConfig,
): { readonly transform: TransformUrl; readonly negotiated: boolean } {
  if (transform.options.get("format") !== "auto") return { transform, negotiated: false };
  const original = originalFormatFromPath(transform.source);
  const chosen = negotiateFormat(accept, original ?? "jpeg", images);
  const options = new Map(transform.options);
  if (original === null && chosen === "jpeg") options.delete("format");
  else options.set("format", chosen);
  return { transform: { options, source: transform.source }, negotiated: true };
}

/**
 * Every transform `format=auto` can resolve to for this source, one per distinct result
 * (the configured formats, the original's, or none written): what a URL signed with
 * format=auto may arrive as, and what purging such a URL must reach.
 */
export function autoFormatChoices(transform: TransformUrl, images: ImagesConfig): TransformUrl[] {
  const seen = new Map<string | undefined, TransformUrl>();
  for (const accept of ["", ...images.formats.map((f) => `image/${f}`)]) {
    const t = resolveAutoFormat(transform, accept, images).transform;
    const format = t.options.get("format");
    if (!seen.has(format)) seen.set(format, t);
  }
  return [...seen.values()];
}

function fail(
  message: string,
  code: TransformParseCode = "invalid_options",
  option?: string,
): TransformParse {
  return { ok: false, code, option, message };
}

/** Echo at most 40 characters of user input in an error. */
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
