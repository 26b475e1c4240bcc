import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fnv1a32, sha256Hex } from "../../../core/key/index.ts";

const nodeSha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

describe("sha256Hex (FIPS 180-4)", () => {
  const vectors: [name: string, input: string, hex: string][] = [
    [
      "empty string (FIPS 180-4 example)",
      "",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ],
    [
      "'abc' (FIPS 180-2 appendix B.1)",
      "abc",
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ],
    [
      "two-block message (FIPS 180-2 appendix B.2)",
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
  ];
  it.each(vectors)("%s", (_name, input, hex) => {
    expect(sha256Hex(input)).toBe(hex);
  });

  // Lengths around the padding boundaries: 55 bytes fit one block, 56 need two (§5.1.1).
  const lengths = [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 100_000];
  it.each(lengths)("matches node:crypto for %i bytes (padding boundaries)", (n) => {
    const s = "x".repeat(n);
    expect(sha256Hex(s)).toBe(nodeSha256(s));
  });

  it("a short input after a long one is not affected by the long one's bytes", () => {
    const long = "é".repeat(50_000);
    expect(sha256Hex(long)).toBe(nodeSha256(long));
    expect(sha256Hex("abc")).toBe(nodeSha256("abc"));
    expect(sha256Hex("")).toBe(nodeSha256(""));
  });

  it("hashes the UTF-8 encoding of non-ASCII text", () => {
    for (const s of ["café", "😀", "日本語のキー", "\u0000\uffff"])
      expect(sha256Hex(s)).toBe(nodeSha256(s));
  });

  it("matches node:crypto on random strings (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (s) => {
        expect(sha256Hex(s)).toBe(nodeSha256(s));
      }),
      { numRuns: 1000 },
    );
  });

  it("hashes a lone surrogate as U+FFFD, like TextEncoder and node:crypto", () => {
    expect(sha256Hex("\ud800")).toBe(nodeSha256("\ufffd"));
  });
});

describe("fnv1a32", () => {
  // Published FNV-1a 32-bit test vectors (Fowler/Noll/Vo reference suite).
  const vectors: [input: string, hash: number][] = [
    ["", 0x811c9dc5],
    ["a", 0xe40c292c],
    ["b", 0xe70c2de5],
    ["foobar", 0xbf9cf968],
  ];
  it.each(vectors)("fnv1a32(%j) = %i", (input, hash) => {
    expect(fnv1a32(input)).toBe(hash);
  });

  it("is an unsigned 32-bit integer", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const h = fnv1a32(s);
        expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
      }),
    );
  });

  it("hashes UTF-8 bytes, so non-ASCII keys agree with a byte-wise implementation", () => {
    const byteWise = (s: string) => {
      let h = 0x811c9dc5;
      for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 50 }), (s) => {
        expect(fnv1a32(s)).toBe(byteWise(s));
      }),
    );
  });

  it("spreads similar keys (low collision rate on 20 000 sequential keys)", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 20_000; i++) seen.add(fnv1a32(`["https","example.com","/p/${i}"]`));
    expect(seen.size).toBeGreaterThan(19_990);
  });
});
