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
export function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 65 && c <= 70) return c - 55; // A-F
  if (c >= 97 && c <= 102) return c - 87; // a-f
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
export function normalisePercentEncoding(s: string): string {
  let pct = s.indexOf("%");
  if (pct === -1) return s;
  let out = "";
  let copied = 0; // s[copied..pct) still needs copying
  const len = s.length;
  while (pct !== -1) {
    if (pct + 2 < len) {
      const hi = hexValue(s.charCodeAt(pct + 1));
      const lo = hi === -1 ? -1 : hexValue(s.charCodeAt(pct + 2));
      if (lo !== -1) {
        const byte = hi * 16 + lo;
        out += s.slice(copied, pct);
        out +=
          isUnreserved(byte) && !completesStrayEscape(out, byte)
            ? String.fromCharCode(byte)
            : `%${HEX[hi] as string}${HEX[lo] as string}`;
        copied = pct + 3;
        pct = s.indexOf("%", copied);
        continue;
      }
    }
    // Not a valid escape: keep the "%" as-is and look for the next one.
    pct = s.indexOf("%", pct + 1);
  }
  return copied === 0 ? s : out + s.slice(copied);
}
