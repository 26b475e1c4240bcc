/**
 * Images: which paths the edge negotiates, and the transform pipeline's options, bounds
 * and signing. The pipeline runs in the shield; the edge reads what it needs to key and
 * refuse a request before it forwards it: the paths and formats, the option resolution,
 * the signing secret and the Client Hints settings.
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
        "HMAC-SHA256 key for signed transform URLs; when set, a transform URL without a valid sig option gets 403 missing_signature or bad_signature. Both tiers check it with one implementation, and the edge refuses before any cache lookup or fetch. Set it as the IMAGE_SIGNING_SECRET environment variable at the shield and as the Worker secret IMAGE_SIGNING_SECRET at the edge (`npx wrangler secret put IMAGE_SIGNING_SECRET`; a config file or the CDN_CONFIG var is readable by more people); each overrides this field. A URL signed with format=auto, width=auto or dpr=auto is also accepted with each value auto can resolve to (a negotiated format, a width of images.widths, a dpr of images.dprs, or the option left out). Default: unset (no signing).",
      ),
  })
  .describe("Signed transform URLs (both tiers).");

const ClientHintsSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Honour Client Hints (RFC 8942) in transform URLs: width=auto takes Sec-CH-Width (or Width), the image's width in device pixels, else Sec-CH-Viewport-Width (or Viewport-Width) × Sec-CH-DPR (or DPR), rounded up to images.widths; dpr=auto takes Sec-CH-DPR (or DPR), rounded up to images.dprs, except beside a width=auto that a hint resolved (that width is in device pixels already). Without hints width=auto means no resize and dpr=auto means 1; malformed hints are ignored. The edge resolves auto before keying and forwarding, so every cached variant names concrete values, and the response lists the hints in Vary. Off: auto resolves as if no hints were sent. Default true.",
      ),
    advertise: z
      .boolean()
      .default(false)
      .describe(
        "Add Accept-CH: Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width to HTML responses at the edge (merged with any Accept-CH the origin sends), so Chromium-based browsers send those hints with the page's image requests. Off by default because it changes the site's own headers and asks every browser for more about its screen; width=auto needs it on, or the origin's own Accept-CH. Default false.",
      ),
    critical: z
      .boolean()
      .default(false)
      .describe(
        "With advertise, also send Critical-CH naming the same hints: a browser that loaded the page without them loads it again with them, one more round trip on a first visit. Only worth it when the HTML itself depends on the hints. Default false.",
      ),
  })
  .superRefine((hints, ctx) => {
    if (hints.critical && !hints.advertise) {
      ctx.addIssue({ code: "custom", path: ["critical"], message: "needs advertise: true" });
    }
  })
  .describe("Client Hints for width=auto and dpr=auto (edge and shield).");

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
    convert: z
      .enum(["auto", "off"])
      .default("auto")
      .describe(
        'What the shield does for a plain image path (images.paths) whose client negotiated AVIF or WebP while the origin has JPEG, PNG or GIF: "auto" converts the source to that format (no resize; animation kept; the transform limits and queue apply), stored as a variant of its own that purging the source purges, and serves the original instead when the conversion is not smaller; "off" serves what the origin sends. Sources the origin already serves as AVIF or WebP pass through either way. Default "auto".',
      ),
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
    clientHints: ClientHintsSchema.prefault({}),
  })
  .describe("Image variant negotiation (edge) and the transform pipeline (shield).");
