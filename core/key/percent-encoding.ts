/**
 * Percent-encoding normalisation, RFC 3986 §6.2.2.1 and §6.2.2.2.
 *
 * Two spellings of one URI must give one cache key, so:
 * - hex digits in a valid escape are uppercased (`%2f` → `%2F`);
 * - escapes of unreserved characters (ALPHA / DIGIT / "-" / "." / "_" / "~", §2.3) are
 *   decoded, because every URI producer must treat them as equivalent;
 * - escapes of anything else stay escaped: decoding a reserved character (`%2F`, `%3D`,
 *   `%26`, `%2B` …) changes what the URI means to the origin (§2.2), and decoding bytes
 *   ≥ 0x80 or controls would produce characters a URL parser re-encodes.
 * An invalid escape (`%zz`, a trailing `%`) is left exactly as written: it is not an
 * escape, so there is nothing to normalise, and "fixing" it would guess at intent. A
 * hex digit right after such a stray "%" stays encoded (see completesStrayEscape).
 *
 * One pass, no regular expression, linear in the input; the common case (no `%`) returns
 * the input string itself without allocating.
 */

/** Value of one hex digit's char code, or -1. */
export function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 65 && code <= 70) return code - 55; // A-F
  if (code >= 97 && code <= 102) return code - 87; // a-f
  return -1;
}

/** RFC 3986 §2.3 unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(b: number): boolean {
  return (
    (b >= 65 && b <= 90) || // A-Z
    (b >= 97 && b <= 122) || // a-z
    (b >= 48 && b <= 57) || // 0-9
    b === 45 || // -
    b === 46 || // .
    b === 95 || // _
    b === 126 // ~
  );
}

const HEX = "0123456789ABCDEF";

/**
 * Whether decoding `byte` after `out` would turn a stray "%" into a new escape: in
 * `%%41a`, decoding `%41` to "A" gives `%Aa`, which a second pass reads as the escape
 * `%AA`. Such a hex digit stays encoded, so normalising is idempotent. `out` only ends in
 * "%" (or "%" and one hex digit) when that "%" was left as-is: escapes written here end
 * in two hex digits and decoded characters are never "%".
 */
function completesStrayEscape(out: string, byte: number): boolean {
  if (hexValue(byte) === -1) return false;
  const n = out.length;
  return (
    out.charCodeAt(n - 1) === 37 ||
    (out.charCodeAt(n - 2) === 37 && hexValue(out.charCodeAt(n - 1)) !== -1)
  );
}

/** Normalise the percent-escapes in a URI component (path, query pair, …). */
export function normalisePercentEncoding(text: string): string {
  let pct = text.indexOf("%");
  if (pct === -1) return text;
  let out = "";
  let copied = 0; // text[copied..pct) still needs copying
  const len = text.length;
  while (pct !== -1) {
    if (pct + 2 < len) {
      const hi = hexValue(text.charCodeAt(pct + 1));
      const lo = hi === -1 ? -1 : hexValue(text.charCodeAt(pct + 2));
      if (lo !== -1) {
        const byte = hi * 16 + lo;
        out += text.slice(copied, pct);
        out +=
          isUnreserved(byte) && !completesStrayEscape(out, byte)
            ? String.fromCharCode(byte)
            : `%${HEX[hi] as string}${HEX[lo] as string}`;
        copied = pct + 3;
        pct = text.indexOf("%", copied);
        continue;
      }
    }
    // Not a valid escape: keep the "%" as-is and look for the next one.
    pct = text.indexOf("%", pct + 1);
  }
  return copied === 0 ? text : out + text.slice(copied);
}
