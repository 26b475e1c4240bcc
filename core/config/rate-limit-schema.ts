/**
 * Rate limits at the shield (`shield.rateLimits`): token buckets per client or for
 * everyone, per rule, enforced by origin-shield/limit/. Validated here like every other
 * setting, so a typo is an error at start-up rather than a limit that never applies.
 */

import { httpMethod, pathGlob } from "./fields.ts";
import { type output, z } from "./zod.ts";

/**
 * A rule name goes into a metric label and, as a Structured Field String, into the
 * RateLimit-Policy and RateLimit response fields: a short token keeps both plain.
 */
const ruleName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1 to 64 letters, digits, _ . or -");

const LimitMatchSchema = z
  .strictObject({
    path: z
      .union([pathGlob, z.array(pathGlob).min(1, "must not be empty")])
      .optional()
      .describe(
        "Path glob or globs (as in TTL rules), matched against the normalised path; any one matching is enough. Omit to match every path.",
      ),
    methods: z
      .array(httpMethod)
      .min(1, "must not be empty")
      .optional()
      .describe("Request methods (exact, uppercase). Omit to match every method."),
  })
  .describe("Which requests the rule counts; all given criteria must match.");

export const RateLimitRuleSchema = z
  .strictObject({
    name: ruleName.describe(
      "Unique name: the rule's label in shield_rate_limited_total and its policy name in the RateLimit-Policy and RateLimit fields of a 429.",
    ),
    match: LimitMatchSchema.prefault({}).describe(
      "Which requests the rule counts. Default {}: every request.",
    ),
    ratePerSecond: z
      .number()
      .positive("must be positive")
      .max(1_000_000, "must be ≤ 1000000")
      .describe(
        "Sustained rate: tokens added to a bucket per second (fractions allowed: 0.5 is one request every two seconds).",
      ),
    burst: z
      .number()
      .int("must be a whole number of requests")
      .positive("must be positive")
      .max(1_000_000, "must be ≤ 1000000")
      .describe(
        "Bucket size: how many requests may come at once after a quiet period. A new or forgotten bucket starts full.",
      ),
    by: z
      .enum(["client", "global"])
      .default("client")
      .describe(
        'Whose bucket a request takes from: "client", one per client address (X-Forwarded-For as far as shield.trustedProxies vouch for it, else the connection\'s peer; an IPv6 address by its /64); "global", one bucket for every request the rule matches. Default "client".',
      ),
    count: z
      .enum(["origin", "all"])
      .default("origin")
      .describe(
        'What takes a token: "origin", only requests the shield sends on to the origin (misses, revalidations, pass-through, image transforms made), so that cache hits stay free and are never refused; a client without tokens is still served whatever the cache holds. "all", every request, hits included. Default "origin".',
      ),
  })
  .describe(
    "A rate limit: a token bucket per client (or for all) over the requests it matches. A request without a token gets 429 with Retry-After, RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers).",
  );

export const RateLimitsSchema = z
  .array(RateLimitRuleSchema)
  .max(64, "must list at most 64 rules")
  .default([])
  .superRefine((rules, ctx) => {
    const seen = new Map<string, number>();
    rules.forEach((rule, i) => {
      const first = seen.get(rule.name);
      if (first === undefined) seen.set(rule.name, i);
      else {
        const message = `duplicate name, also rateLimits[${first}]`;
        ctx.addIssue({ code: "custom", path: [i, "name"], message });
      }
    });
  })
  .describe(
    "Rate limits, each applied to every request it matches (all matching rules must have a token). Buckets live in a table bounded by shield.tables.rateLimitBytes. Default []: no limits.",
  );

export type RateLimitRule = output<typeof RateLimitRuleSchema>;
