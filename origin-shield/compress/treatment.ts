/**
 * What the shield does with a response for a client whose Accept-Encoding reduced to one
 * coding (core/http/accept-encoding.ts): send it as it is, or send a copy in the
 * client's coding, made from it once and stored beside it.
 *
 * A response is transformed only when all of these hold:
 *   - it is a 200 (a 206, 304 or error is the origin's to shape);
 *   - it does not say Cache-Control: no-transform (RFC 9111 §5.2.2.6);
 *   - it has no Content-Encoding, or exactly one the shield reads (br, gzip), and that
 *     is not the client's own (never encoded twice: a body the origin compressed is
 *     decoded first, and passed through untouched to a client that takes its coding);
 *   - uncompressed, its type is a configured compressible one and not one that is
 *     compressed already (images, audio, video, archives), and its size is known to be
 *     at least minBytes and at most the memory tier's object bound (an unknown length
 *     is compressed as it streams).
 * Whenever the answer would differ with Accept-Encoding, every answer for it (the plain
 * one included) says Vary: Accept-Encoding (RFC 9110 §12.5.5).
 */
import type { CompressionConfig } from "../../core/config/index.ts";
import type { ContentCoding } from "../../core/http/accept-encoding.ts";

/** A coding the shield can read and write. */
export type Coding = "br" | "gzip";

export type Treatment =
  /** Sent as it is; `varies`: other clients get another coding of it. */
  | { readonly kind: "as-is"; readonly varies: boolean }
  /** Sent in the client's coding, made from the body in coding `from`. */
  | { readonly kind: "transform"; readonly from: ContentCoding };

export const AS_IS: Treatment = { kind: "as-is", varies: false };
const AS_IS_VARIES: Treatment = { kind: "as-is", varies: true };
const FROM_IDENTITY: Treatment = { kind: "transform", from: "identity" };
const FROM_BR: Treatment = { kind: "transform", from: "br" };
const FROM_GZIP: Treatment = { kind: "transform", from: "gzip" };

/**
 * Types that are compressed already: compressing them again costs CPU and gains nothing,
 * whatever the configured list says. Image types that are not (SVG, ICO, BMP) are left to it.
 */
const COMPRESSED_TOP = new Set(["video", "audio"]);
const UNCOMPRESSED_IMAGES = new Set(["svg+xml", "x-icon", "vnd.microsoft.icon", "bmp"]);
const COMPRESSED_TYPES = new Set([
  "application/zip",
  "application/gzip",
  "application/x-gzip",
  "application/x-bzip2",
  "application/x-xz",
  "application/zstd",
  "application/x-7z-compressed",
  "application/x-rar-compressed",
  "application/vnd.rar",
  "application/pdf",
  "application/octet-stream",
  "font/woff",
  "font/woff2",
]);

/** Tells whether a Content-Type is one to compress, from the configured patterns. */
export class TypeMatcher {
  readonly #exact = new Set<string>();
  readonly #tops = new Set<string>();
  readonly #suffixes: [string, string][] = [];
  /** Answers by Content-Type value as sent: origins send a handful of distinct values. */
  readonly #memo = new Map<string, boolean>();

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      const [top, sub] = p.split("/") as [string, string];
      if (sub === "*") this.#tops.add(top);
      else if (sub.startsWith("*+")) this.#suffixes.push([top, sub.slice(1)]);
      else this.#exact.add(p);
    }
  }

  compressible(contentType: string | undefined): boolean {
    if (contentType === undefined) return false;
    const known = this.#memo.get(contentType);
    if (known !== undefined) return known;
    const answer = this.#decide(contentType);
    // Bounded: an origin inventing types only restarts the memo.
    if (this.#memo.size >= 512) this.#memo.clear();
    this.#memo.set(contentType, answer);
    return answer;
  }

  #decide(contentType: string): boolean {
    const media = (contentType.split(";")[0] as string).trim().toLowerCase();
    const slash = media.indexOf("/");
    if (slash <= 0) return false;
    const top = media.slice(0, slash);
    const sub = media.slice(slash + 1);
    if (COMPRESSED_TOP.has(top) || COMPRESSED_TYPES.has(media)) return false;
    if (top === "image" && !UNCOMPRESSED_IMAGES.has(sub)) return false;
    if (this.#exact.has(media) || this.#tops.has(top)) return true;
    return this.#suffixes.some(([t, suffix]) => t === top && sub.endsWith(suffix));
  }
}

/** The value of the first field `name` in a flat [name, value, …] list. */
export function fieldOf(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}

/** RFC 9111 §5.2.2.6 no-transform, in any Cache-Control line of the response. */
function noTransform(flat: readonly string[]): boolean {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] !== "cache-control") continue;
    for (const d of (flat[i + 1] as string).split(",")) {
      if (d.trim().toLowerCase() === "no-transform") return true;
    }
  }
  return false;
}

/** The response's content coding as the shield reads it; null for one it does not. */
function codingOf(value: string | undefined): ContentCoding | null {
  if (value === undefined) return "identity";
  const v = value.trim().toLowerCase();
  if (v === "" || v === "identity") return "identity";
  if (v === "gzip" || v === "x-gzip") return "gzip";
  if (v === "br") return "br";
  return null; // deflate, zstd, a list of codings: passed through as the origin sent it
}

function lengthOf(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

export interface TreatmentOptions {
  readonly config: CompressionConfig;
  readonly types: TypeMatcher;
  /** Largest body transformed (the memory tier's object bound), bytes. */
  readonly maxBytes: number;
}

/** The treatment of a response (status, flat fields) for a client that takes `coding`. */
export function treatmentFor(
  options: TreatmentOptions,
  coding: ContentCoding,
  status: number,
  flat: readonly string[],
): Treatment {
  if (status !== 200 || noTransform(flat)) return AS_IS;
  const from = codingOf(fieldOf(flat, "content-encoding"));
  if (from === null) return AS_IS;
  const size = lengthOf(fieldOf(flat, "content-length"));
  if (from !== "identity") {
    if (from === coding) return AS_IS_VARIES;
    // Over the bound it cannot be decoded within it: relayed as the origin sent it.
    if (size !== null && size > options.maxBytes) return AS_IS;
    return from === "br" ? FROM_BR : FROM_GZIP;
  }
  if (!options.types.compressible(fieldOf(flat, "content-type"))) return AS_IS;
  if (size !== null && (size < options.config.minBytes || size > options.maxBytes)) return AS_IS;
  return coding === "identity" ? AS_IS_VARIES : FROM_IDENTITY;
}

/** Vary: Accept-Encoding added to a field list in place, merged with the Vary it has. */
export function addVary(flat: string[]): void {
  let first = -1;
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] !== "vary") continue;
    if (first < 0) first = i;
    for (const m of (flat[i + 1] as string).split(",")) {
      const member = m.trim().toLowerCase();
      if (member === "accept-encoding" || member === "*") return;
    }
  }
  if (first < 0) {
    flat.push("vary", "Accept-Encoding");
    return;
  }
  const value = (flat[first + 1] as string).trim();
  flat[first + 1] = value === "" ? "Accept-Encoding" : `${value}, Accept-Encoding`;
}
