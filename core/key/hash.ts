/**
 * Synchronous, runtime-neutral hashes. `crypto.subtle.digest` is asynchronous and
 * `node:crypto` is not available in the Worker, so SHA-256 (FIPS 180-4) is written out
 * here; both runtimes then derive identical storage names from identical keys.
 *
 * Kept rather than `@noble/hashes`: for cache keys of 50 to 500 bytes (every request
 * hashes one) this is 1.3 to 3× as fast in Node and in workerd, because it reuses its
 * buffers and encodes UTF-8 in place, and it is 1.6 KiB smaller gzipped; the output is
 * the same (`npm run bench:libraries` checks both).
 */

// FIPS 180-4 §4.2.2: first 32 bits of the fractional parts of the cube roots of the
// first 64 primes.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// FIPS 180-4 §5.3.3: initial hash value.
const H0 = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const encoder = new TextEncoder();
// Scratch buffers, reused: safe because hashing is synchronous. The message buffer grows
// to the largest key seen (a key is bounded by the request size).
const W = new Uint32Array(64);
const H = new Uint32Array(8);
let buf = new Uint8Array(1024);

const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, "0"),
);

/** SHA-256 of the UTF-8 encoding of `text`, as 64 lowercase hex digits. */
export function sha256Hex(text: string): string {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit; + 72 for the padding.
  const need = text.length * 3 + 72;
  if (buf.length < need) buf = new Uint8Array(Math.max(need, buf.length * 2));
  const { written } = encoder.encodeInto(text, buf);
  // §5.1.1 padding: 0x80, zeros, then the 64-bit big-endian bit length; a multiple of 64 bytes.
  const total = (((written + 8) >>> 6) + 1) * 64;
  buf.fill(0, written, total);
  buf[written] = 0x80;
  const bitsHigh = Math.floor(written / 0x2000_0000); // (written * 8) / 2^32
  const bitsLow = (written * 8) >>> 0;
  for (let i = 0; i < 4; i++) {
    buf[total - 8 + i] = bitsHigh >>> (24 - 8 * i);
    buf[total - 4 + i] = bitsLow >>> (24 - 8 * i);
  }
  H.set(H0);
  for (let off = 0; off < total; off += 64) block(buf, off);
  let hex = "";
  for (let i = 0; i < 8; i++) {
    const h = H[i] as number;
    hex +=
      HEX_BYTE[h >>> 24]! +
      HEX_BYTE[(h >>> 16) & 0xff]! +
      HEX_BYTE[(h >>> 8) & 0xff]! +
      HEX_BYTE[h & 0xff]!;
  }
  return hex;
}

/** §6.2.2: process one 64-byte block into H. */
function block(m: Uint8Array, off: number): void {
  for (let t = 0; t < 16; t++) {
    const j = off + t * 4;
    W[t] =
      ((m[j] as number) << 24) |
      ((m[j + 1] as number) << 16) |
      ((m[j + 2] as number) << 8) |
      (m[j + 3] as number);
  }
  for (let t = 16; t < 64; t++) {
    const w15 = W[t - 15] as number;
    const w2 = W[t - 2] as number;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = (W[t - 16] as number) + s0 + (W[t - 7] as number) + s1;
  }
  let a = H[0] as number;
  let b = H[1] as number;
  let c = H[2] as number;
  let d = H[3] as number;
  let e = H[4] as number;
  let f = H[5] as number;
  let g = H[6] as number;
  let h = H[7] as number;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + (K[t] as number) + (W[t] as number)) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0] as number) + a;
  H[1] = (H[1] as number) + b;
  H[2] = (H[2] as number) + c;
  H[3] = (H[3] as number) + d;
  H[4] = (H[4] as number) + e;
  H[5] = (H[5] as number) + f;
  H[6] = (H[6] as number) + g;
  H[7] = (H[7] as number) + h;
}

/**
 * FNV-1a, 32-bit, over the UTF-8 bytes of `text` (so it matches published test vectors
 * and any other implementation). Fast and well distributed for short keys; NOT
 * collision-resistant, so it picks shield nodes (rendezvous hashing) but never names
 * stored entries.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return fnv1a32Bytes(encoder.encode(text));
    hash ^= c;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i] as number;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
