/** Base64 (RFC 4648 §4), as RFC 8941 §4.2.7 and §4.1.8 use it for Byte Sequences. */

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Int8Array(128).fill(-1);
for (let k = 0; k < 64; k++) B64_VALUE[B64.charCodeAt(k)] = k;

export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  let k = 0;
  for (; k + 2 < bytes.length; k += 3) {
    const n = (bytes[k]! << 16) | (bytes[k + 1]! << 8) | bytes[k + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - k;
  if (rest === 1) {
    const n = bytes[k]! << 16;
    out += `${B64[n >> 18]}${B64[(n >> 12) & 63]}==`;
  } else if (rest === 2) {
    const n = (bytes[k]! << 16) | (bytes[k + 1]! << 8);
    out += `${B64[n >> 18]}${B64[(n >> 12) & 63]}${B64[(n >> 6) & 63]}=`;
  }
  return out;
}

/**
 * Decodes base64, or returns null. Per RFC 8941 §4.2.7 missing "=" padding and non-zero pad bits
 * are accepted ("parsers SHOULD NOT fail"); "=" anywhere but the end, or a wrong amount of it, is
 * rejected.
 */
export function decodeBase64(text: string): Uint8Array | null {
  let len = text.length;
  while (len > 0 && text.charCodeAt(len - 1) === 0x3d) len--;
  const pad = text.length - len;
  if (pad > 2 || (pad > 0 && text.length % 4 !== 0) || len % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let k = 0; k < len; k++) {
    const c = text.charCodeAt(k);
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
