/**
 * Whether a plain image path's source is one the shield converts (images.convert): a
 * JPEG, PNG or GIF by what the origin says and by its first bytes, never decoded here.
 *
 * Everything else goes out as the origin sent it: an origin that already answers with
 * AVIF or WebP (its own negotiation, or a CMS that stores WebP under ".jpg"), SVG, a page
 * or an error document at an image path, a compressed body. Checking the bytes as well as
 * the Content-Type keeps sharp away from whatever a mislabelled source really is, and
 * an animated PNG is left alone because libvips reads only its first frame: converting
 * it would freeze the animation.
 */
import { headerOf } from "./source-body.ts";

/** Media types a convertible source may be labelled with (with the old JPEG aliases). */
const CONVERTIBLE_TYPES: ReadonlySet<string> = new Set([
  "image/jpeg",
  "image/jpg",
  "image/pjpeg",
  "image/png",
  "image/gif",
]);

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The source's Content-Type and Content-Encoding (flat header list) and its bytes. */
export function isConvertibleSource(headers: readonly string[], bytes: Buffer): boolean {
  const encoding = headerOf(headers, "content-encoding");
  if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") return false;
  const type = headerOf(headers, "content-type");
  if (type === undefined) return false;
  const media = (type.split(";")[0] as string).trim().toLowerCase();
  if (!CONVERTIBLE_TYPES.has(media)) return false;
  if (isJpeg(bytes) || isGif(bytes)) return true;
  return isPng(bytes) && !isAnimatedPng(bytes);
}

function isJpeg(bytes: Buffer): boolean {
  return bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function isGif(bytes: Buffer): boolean {
  const head = bytes.toString("latin1", 0, 6);
  return head === "GIF87a" || head === "GIF89a";
}

function isPng(bytes: Buffer): boolean {
  return bytes.length > PNG_SIGNATURE.length && bytes.subarray(0, 8).equals(PNG_SIGNATURE);
}

/**
 * An APNG names its animation in an acTL chunk, which must come before the first image
 * data (IDAT). Chunks are walked by their declared lengths, which cannot run the loop
 * past the buffer: each step moves forward by at least the 12 bytes of a chunk's frame.
 */
function isAnimatedPng(bytes: Buffer): boolean {
  let at = PNG_SIGNATURE.length;
  while (at + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString("latin1", at + 4, at + 8);
    if (type === "acTL") return true;
    if (type === "IDAT" || type === "IEND") return false;
    at += 12 + length;
  }
  return false;
}
