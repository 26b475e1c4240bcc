/**
 * Images: which paths the edge negotiates, and the transform pipeline's options, bounds
 * and signing (the pipeline runs in the shield; the edge reads only the first part).
 * Bounded everything: input pixels and bytes, output size, time per
 * transform, transforms at once and waiting, and distinct variants per source image.
 */

import { pathGlob, strictlyAscending, unique } from "./fields.ts";
import { z } from "./zod.ts";

const MiB = 1024 * 1024;

/** Cloudflare's quality words; each stands for a per-format quality (image-pipeline). */
export const QUALITY_WORDS = ["high", "medium-high", "medium-low", "low"] as const;

const dimension = z
  .number()
  .int("must be a whole number of pixels")
  .min(16, "must be ≥ 16")
  // WebP's largest side (libwebp's WEBP_MAX_DIMENSION).
  .max(16_383, "must be ≤ 16383 (the largest WebP side)");

const LimitsSchema = z
  .strictObject({
    maxInputPixels: z
      .number()
      .int("must be a whole number of pixels")
      .positive("must be positive")
      .max(1_000_000_000, "must be ≤ 1000000000")
      .default(50_000_000)
      .describe(
        "Largest source image, in pixels (width × height, × frames when animation is kept), read from its header before anything is decoded; larger gets 413 too_many_pixels. An animation's output (size × frames) is held to the same bound. Default 50000000.",
      ),
    maxInputBytes: z
      .number()
      .int("must be a whole number of bytes")
      .positive("must be positive")
      .default(32 * MiB)
      .describe(
        "Largest source image, in bytes; larger gets 413 source_too_large. Default 33554432 (32 MiB).",
      ),
    maxOutputWidth: dimension
      .default(4_096)
      .describe("Widest output, px; larger requests are clamped. Default 4096."),
    maxOutputHeight: dimension
      .default(4_096)
      .describe("Tallest output, px; larger requests are clamped. Default 4096."),
    timeoutMs: z
      .number()
      .int("must be a whole number of milliseconds")
      .min(1_000, "must be ≥ 1000")
      .max(120_000, "must be ≤ 120000")
      .default(10_000)
      .describe(
        "Longest one transform may take, ms; beyond it the client gets 503 transform_timeout and libvips is told to stop (it checks whole seconds; an AVIF encode under way runs to its end). Default 10000.",
      ),
    concurrency: z
      .number()
      .int("must be an integer")
      .min(0, "must be ≥ 0")
      .max(256, "must be ≤ 256")
      .default(0)
      .describe(
        "Transforms that run at once; 0 means twice the CPU cores (os.availableParallelism), as imgproxy does. libvips' own thread count (sharp.concurrency) is set to the core count. Default 0.",
      ),
    maxQueue: z
      .number()
      .int("must be an integer")
      .min(0, "must be ≥ 0")
      .max(100_000, "must be ≤ 100000")
      .default(64)
      .describe(
        "Transforms that may wait for a free slot; beyond it a request gets 503 transform_busy with Retry-After. Identical requests share one transform and take one place. Default 64.",
      ),
    maxVariantsPerSource: z
      .number()
      .int("must be an integer")
      .min(1, "must be ≥ 1")
      .max(100_000, "must be ≤ 100000")
      .default(64)
      .describe(
        "Distinct variants (resolved option sets) one shield node makes of one source image; a new one beyond it gets 400 too_many_variants. Default 64.",
      ),
  })
  .describe("Bounds on every transform (shield).");

const SigningSchema = z
  .strictObject({
    secret: z
      .string()
      .min(32, "must be at least 32 characters")
      .optional()
      .describe(
        "HMAC-SHA256 key for signed transform URLs; when set, a transform URL without a valid sig option gets 403. Prefer the IMAGE_SIGNING_SECRET environment variable to writing it in a file. Default: unset (no signing).",
      ),
  })
  .describe("Signed transform URLs (shield).");

export const ImagesSchema = z
  .strictObject({
    paths: z
      .array(pathGlob)
      .default(["/**/*.jpg", "/**/*.jpeg", "/**/*.png"])
      .describe("Globs of image paths whose format is negotiated (matched case-insensitively)."),
    formats: z
      .array(z.enum(["avif", "webp"]))
      .default(["avif", "webp"])
      .superRefine(unique("format"))
      .describe('Modern formats to offer, preferred first. Default ["avif","webp"].'),
    widths: z
      .array(z.number().int("must be an integer").positive("must be positive"))
      .min(1, "must not be empty")
      // Each step at most a quarter above the one before (from 64 px up), so rounding up
      // never costs more than about 25 % of width; common layout widths are steps.
      .default([
        16, 32, 48, 64, 80, 96, 112, 128, 160, 200, 240, 300, 360, 420, 480, 540, 640, 720, 800,
        960, 1080, 1280, 1440, 1600, 1920, 2048, 2560, 3200, 3840,
      ])
      .superRefine(strictlyAscending)
      .describe(
        "Width steps, px, ascending: what widthPolicy round-up rounds a transform's pixel width (width × dpr; a height given alone likewise) up to, and the widths allow-list accepts.",
      ),
    widthPolicy: z
      .enum(["exact", "round-up", "allow-list"])
      .default("exact")
      .describe(
        'How a transform width (or height) becomes pixels: "exact", as asked × dpr (as Cloudflare, imgix and imgproxy do; the variants per source stay bounded by limits.maxVariantsPerSource and signing); "round-up" to the next of images.widths (capped at the largest); or "allow-list": a width that is not one of them gets 400 width_not_allowed. Default "exact".',
      ),
    dprs: z
      .array(z.number().min(1, "must be between 1 and 3").max(3, "must be between 1 and 3"))
      .min(1, "must not be empty")
      .default([1, 1.5, 2, 3])
      .superRefine(strictlyAscending)
      .describe("Device pixel ratio steps, ascending, 1..3; a requested dpr rounds up to a step."),
    transformPrefix: z
      .string()
      .regex(/^\/.+\/$/, 'must start and end with "/" and not be "/"')
      .default("/img/")
      .describe('Path prefix of image transform URLs. Default "/img/".'),
    fallback: z
      .string()
      .max(2048, "must be at most 2048 characters")
      .regex(/^\/(?![/\\])[\x21-\x7e]*$/, 'must be a path on the same host, starting with one "/"')
      .optional()
      .describe(
        'A placeholder image (a path on the request\'s own host, e.g. "/images/placeholder.png") that a transform which cannot be made from its source (an error status, not an image, undecodable, too large, a failed transform) redirects to (302, never stored) instead of answering the error; a URL with onerror=redirect goes to its own source instead. Default: none (the error is answered).',
      ),
    defaultQuality: z
      .union([
        z.enum(QUALITY_WORDS),
        z
          .number()
          .int("must be a whole number")
          .min(1, "must be 1..100")
          .max(100, "must be 1..100"),
      ])
      .default("medium-high")
      .describe(
        'Quality when a transform names none: a number 1..100 for every format, or a word (high, medium-high, medium-low, low) that stands for a quality per format (see README). Default "medium-high".',
      ),
    avifEffort: z
      .number()
      .int("must be an integer")
      .min(0, "must be 0..9")
      .max(9, "must be 0..9")
      .default(0)
      .describe(
        "AVIF encoder effort (0 fastest .. 9 smallest). Default 0, chosen by measurement (README, bench/image-effort.ts).",
      ),
    webpEffort: z
      .number()
      .int("must be an integer")
      .min(0, "must be 0..6")
      .max(6, "must be 0..6")
      .default(2)
      .describe(
        "WebP encoder effort (0 fastest .. 6 smallest). Default 2, chosen by measurement (README, bench/image-effort.ts).",
      ),
    limits: LimitsSchema.prefault({}),
    signing: SigningSchema.prefault({}),
  })
  .describe("Image variant negotiation (edge) and the transform pipeline (shield).");
