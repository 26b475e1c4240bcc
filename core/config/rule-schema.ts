/** TTL rules: when a rule applies (match) and what it does (bypass, ttl, stale windows). */

import { httpMethod, mediaRangePattern, pathGlob, seconds, statusMatcher } from "./fields.ts";
import { z } from "./zod.ts";

const TtlSchema = z
  .strictObject({
    set: seconds.optional().describe("Use exactly this TTL, seconds, whatever the origin says."),
    floor: seconds.optional().describe("Raise a shorter origin TTL to this, seconds."),
    cap: seconds.optional().describe("Lower a longer origin TTL to this, seconds."),
  })
  .superRefine((ttl, ctx) => {
    if (ttl.set !== undefined) {
      for (const k of ["floor", "cap"] as const) {
        if (ttl[k] !== undefined) {
          ctx.addIssue({ code: "custom", path: [k], message: `cannot be combined with set` });
        }
      }
    } else if (ttl.floor === undefined && ttl.cap === undefined) {
      ctx.addIssue({ code: "custom", message: "must have set, floor or cap" });
    } else if (ttl.floor !== undefined && ttl.cap !== undefined && ttl.floor > ttl.cap) {
      ctx.addIssue({ code: "custom", path: ["floor"], message: "must be ≤ cap" });
    }
  })
  .describe("TTL override: either set, or floor and/or cap.");

const MatchSchema = z
  .strictObject({
    path: z
      .union([pathGlob, z.array(pathGlob).min(1, "must not be empty")])
      .optional()
      .describe("Path glob or globs; any one matching is enough. Omit to match every path."),
    methods: z
      .array(httpMethod)
      .min(1, "must not be empty")
      .optional()
      .describe("Request methods (exact, uppercase). Omit to match every method."),
    status: z
      .array(statusMatcher)
      .min(1, "must not be empty")
      .optional()
      .describe('Response statuses: 100-599 or a class "2xx"…"5xx". Response-side.'),
    contentType: z
      .array(mediaRangePattern)
      .min(1, "must not be empty")
      .optional()
      .describe(
        'Response media types, "type/subtype" or "type/*", compared without parameters and case-insensitively. Response-side.',
      ),
  })
  .describe(
    "All given criteria must match. A rule with response-side criteria applies only after the response.",
  );

export const RuleSchema = z
  .strictObject({
    name: z
      .string()
      .min(1, "must not be empty")
      .optional()
      .describe("Label for logs and Cache-Status detail."),
    match: MatchSchema.prefault({}).describe("When the rule applies. Default {}: always."),
    bypass: z
      .boolean()
      .optional()
      .describe("Do not cache: forward to the origin and do not store."),
    ttl: TtlSchema.optional(),
    staleWhileRevalidate: seconds
      .optional()
      .describe("stale-while-revalidate window (RFC 5861), seconds."),
    staleIfError: seconds.optional().describe("stale-if-error window (RFC 5861), seconds."),
  })
  .superRefine((rule, ctx) => {
    const effects = ["ttl", "staleWhileRevalidate", "staleIfError"] as const;
    const methods = rule.match.methods;
    if (methods !== undefined && !methods.includes("GET") && !methods.includes("HEAD")) {
      // Only responses to GET are stored (HEAD is answered from them).
      for (const k of effects) {
        if (rule[k] !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [k],
            message:
              "never applies: only responses to GET are stored, and match.methods excludes GET",
          });
        }
      }
    }
    if (rule.bypass === true) {
      for (const k of effects) {
        if (rule[k] !== undefined) {
          ctx.addIssue({ code: "custom", path: [k], message: "cannot be combined with bypass" });
        }
      }
    } else if (effects.every((k) => rule[k] === undefined)) {
      ctx.addIssue({
        code: "custom",
        message: "rule does nothing: set bypass: true, ttl, staleWhileRevalidate or staleIfError",
      });
    }
  })
  .describe("A TTL rule. The first matching rule wins.");
