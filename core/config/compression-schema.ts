/**
 * Compression at the origin shield: which responses it encodes with brotli or gzip for
 * clients that accept them, how hard it works on the copy a client waits for and on the
 * copy it keeps. Levels are the libraries' own scales (brotli quality 0–11, zlib 1–9).
 */

import { mediaRangePattern, unique } from "./fields.ts";
import { z } from "./zod.ts";

/** Types worth compressing that browsers and APIs commonly serve uncompressed. */
export const DEFAULT_COMPRESSIBLE_TYPES: readonly string[] = [
  "text/*",
  "application/json",
  "application/*+json",
  "application/javascript",
  "application/x-javascript",
  "application/ecmascript",
  "application/xml",
  "application/*+xml",
  "image/svg+xml",
  "image/x-icon",
  "image/vnd.microsoft.icon",
  "image/bmp",
  "application/wasm",
  "application/x-ndjson",
  "application/graphql-response+json",
  "font/ttf",
  "font/otf",
  "application/vnd.ms-fontobject",
];

const brotliLevel = z
  .number()
  .int("must be a whole number")
  .min(0, "must be between 0 and 11 (brotli quality)")
  .max(11, "must be between 0 and 11 (brotli quality)");

export const CompressionSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Compress responses at the shield for clients that accept br or gzip (Accept-Encoding, reduced to one coding: br, gzip or identity). Each coding of an object is stored once and served from stored bytes; responses the origin compressed itself pass through to clients that accept that coding and are decoded, within a bound, for the others. Default true.",
      ),
    types: z
      .array(mediaRangePattern)
      .min(1, "must list at least one media type (set enabled to false to turn compression off)")
      .superRefine(unique("media type"))
      .default([...DEFAULT_COMPRESSIBLE_TYPES])
      .describe(
        'Media types the shield compresses: "type/subtype", "type/*", or "type/*+suffix" (application/*+json). Types that are already compressed (images other than SVG, ICO and BMP; audio, video, archives, WOFF fonts) are never compressed whatever this list says. Default: text/*, JSON, JavaScript, XML, SVG, ICO, BMP, wasm, NDJSON, TTF, OTF and EOT fonts.',
      ),
    minBytes: z
      .number()
      .int("must be a whole number of bytes")
      .min(0, "must be ≥ 0")
      .max(16 * 1024 * 1024, "must be ≤ 16777216")
      .default(1024)
      .describe(
        "Smallest body compressed, bytes (by Content-Length when the origin sends one); smaller bodies gain little and are sent as they are. Bodies larger than shield.memory.maxObjectBytes are never compressed either: they are relayed as the origin sent them, without a second stored copy. Default 1024.",
      ),
    brotliLevel: brotliLevel
      .default(5)
      .describe(
        "Brotli quality (0–11) of the copy made on a miss, while the client waits: about as fast as gzip at 6, and smaller (level 4 can come out larger than gzip for JavaScript). Default 5.",
      ),
    brotliStoredLevel: brotliLevel
      .default(11)
      .describe(
        "Brotli quality (0–11) the stored copy is re-encoded at once, in the background, replacing the fast copy; hits then serve it. At most one re-encode per core runs at a time and a full queue drops work (the fast copy stays). Must be ≥ brotliLevel; equal means no re-encode. Default 11.",
      ),
    gzipLevel: z
      .number()
      .int("must be a whole number")
      .min(1, "must be between 1 and 9 (zlib level)")
      .max(9, "must be between 1 and 9 (zlib level)")
      .default(6)
      .describe("zlib level (1–9) of gzip copies, made once on a miss and stored. Default 6."),
  })
  .superRefine((c, ctx) => {
    if (c.brotliStoredLevel < c.brotliLevel) {
      ctx.addIssue({
        code: "custom",
        path: ["brotliStoredLevel"],
        message: `must be ≥ brotliLevel (${c.brotliLevel})`,
      });
    }
  })
  .describe("Compression at the shield (br and gzip, node:zlib).");
