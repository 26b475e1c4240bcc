/**
 * How much of a source holds its whole header, so that the header can be read while the
 * rest of the body is still arriving (ImagePipeline.probeHeader).
 *
 * Only JPEG, the format of most photographs: every field the probe reads (SOF: size and
 * sampling; APP1: EXIF and its orientation; APP2: the ICC profile) comes in a marker
 * segment before the first scan (SOS), and libjpeg stops reading the header at SOS. A
 * prefix that ends after the SOS segment therefore reads exactly as the whole file does.
 * Other formats are probed whole, as before: a GIF's or WebP's frame count needs every
 * frame, and PNG and AVIF may keep metadata after the image data.
 */

/** The longest header looked for: a few EXIF and ICC segments. Beyond it, probe whole. */
export const HEADER_WINDOW = 256 * 1024;

/**
 * The length of the prefix of `bytes` that ends with the JPEG's SOS segment, or null
 * when `bytes` is not a JPEG, its markers do not parse, or its header is not all there yet.
 * Segment lengths are read as written: each step moves forward by at least two bytes,
 * so no input can keep the walk going past the end of `bytes`.
 */
export function jpegHeaderLength(bytes: Buffer): number | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let at = 2;
  for (;;) {
    // A marker may be preceded by any number of 0xFF fill bytes.
    while (at + 1 < bytes.length && bytes[at] === 0xff && bytes[at + 1] === 0xff) at++;
    if (at + 4 > bytes.length) return null;
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1] as number;
    // End of image before any scan: nothing to read ahead of.
    if (marker === 0xd9) return null;
    // TEM and RSTn stand alone, with no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = bytes.readUInt16BE(at + 2);
    if (length < 2) return null;
    const end = at + 2 + length;
    if (marker === 0xda) return end <= bytes.length ? end : null;
    at = end;
  }
}
