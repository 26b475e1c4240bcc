/**
 * The one configuration schema of the CDN, shared by the edge Worker and the origin
 * shield. It is validated once, at startup; the code uses the inferred output types, so
 * a field is defined, defaulted and documented in exactly one place.
 *
 * Every object is strict: an unknown key (a typo such as `ttl.flor`) is an error, not a
 * silently ignored setting. Every field carries a `.describe()`: the README's config
 * reference is generated from, and checked against, these descriptions.
 *
 * Error reporting lives in ./errors.ts; field vocabularies (hosts, tokens, media types,
 * query-param patterns, globs) in ./fields.ts; the rule and key sections in
 * ./rule-schema.ts and ./key-schema.ts; an origin and its pool of servers in
 * ./origin-schema.ts.
 */

import { CompressionSchema } from "./compression-schema.ts";
import { EdgeSchema } from "./edge-schema.ts";
import { issuesToConfigError } from "./errors.ts";
import { cookiePattern, headerName, seconds, unique } from "./fields.ts";
import { ImagesSchema } from "./images-schema.ts";
import { KeySchema } from "./key-schema.ts";
import { OriginSchema } from "./origin-schema.ts";
import { RuleSchema } from "./rule-schema.ts";
import { ShieldSchema } from "./shield-schema.ts";
import { type input, type output, z } from "./zod.ts";

export { ConfigError, type ConfigIssue } from "./errors.ts";
export { DEFAULT_TRACKING_PARAMS } from "./fields.ts";

const CacheSchema = z
  .strictObject({
    honorRequestNoCache: z
      .boolean()
      .default(false)
      .describe(
        "Obey a client's Cache-Control no-cache, max-age, min-fresh and no-store (and Pragma: no-cache). Default false: CDNs commonly ignore them, so no client can force traffic to the origin (RFC 9111 §5.2.1 allows either); max-stale and only-if-cached are always obeyed.",
      ),
    heuristicFraction: z
      .number()
      .min(0, "must be between 0 and 1")
      .max(1, "must be between 0 and 1")
      .default(0.1)
      .describe(
        "Heuristic freshness as a fraction of the time since Last-Modified (RFC 9111 §4.2.2). Default 0.1.",
      ),
    maxHeuristicTtl: seconds
      .default(86_400)
      .describe("Upper bound on a heuristic freshness lifetime, seconds. Default 86400."),
    negativeTtl: seconds
      .default(60)
      .describe(
        "Negative caching: how long a 404 or 410 is fresh when the origin gives it no freshness (no max-age, s-maxage, Expires or targeted field), seconds, at both tiers; Cache-Status says detail=negative-ttl. It replaces the Last-Modified heuristic for those statuses and gets no configured stale window. An explicit no-store, no-cache or max-age=0 is obeyed, and a matching TTL rule's ttl applies to it as to any lifetime. 0 turns it off. Default 60.",
      ),
    defaultStaleWhileRevalidate: seconds
      .default(0)
      .describe(
        "stale-while-revalidate window (RFC 5861) when neither origin nor rule sets one, seconds. Default 0.",
      ),
    defaultStaleIfError: seconds
      .default(0)
      .describe(
        "stale-if-error window (RFC 5861) when neither origin nor rule sets one, seconds. Default 0.",
      ),
    keep: seconds
      .default(3_600)
      .describe(
        "How long a response with a validator (ETag or Last-Modified) is kept after it may no longer be served, so it can be revalidated with a conditional request instead of refetched, seconds. Default 3600.",
      ),
    trustCookies: z
      .boolean()
      .default(false)
      .describe(
        "Share responses to requests with cookies like responses to anonymous ones. Default false: a response fetched with a cookie the key does not hold is shared only when explicitly shareable (max-age, s-maxage or Expires in the future, public, CDN-Cache-Control, or a TTL rule naming its path), never on heuristic freshness, because the origin may have made that page for the cookie's owner. Turn on only when no cookie ever changes a page (see README: Security model).",
      ),
    targetedCacheControl: z
      .array(headerName)
      .default(["CDN-Cache-Control"])
      .superRefine(unique("header", (s) => s.toLowerCase()))
      .superRefine((names, ctx) => {
        names.forEach((n, i) => {
          if (n.toLowerCase() === "cache-control") {
            ctx.addIssue({
              code: "custom",
              path: [i],
              message:
                "Cache-Control is what targeted fields take precedence over (RFC 9213); list only targeted fields",
            });
          }
        });
      })
      .describe(
        'Targeted cache-control fields this CDN obeys, highest precedence first (RFC 9213). Default ["CDN-Cache-Control"].',
      ),
  })
  .describe("Freshness and staleness settings.");

export const CdnConfigSchema = z
  .strictObject({
    origins: z
      .array(OriginSchema)
      .min(1, "must list at least one origin")
      .superRefine((origins, ctx) => {
        const names = new Map<string, number>();
        const routes = new Map<string, number>();
        origins.forEach((o, i) => {
          const prev = names.get(o.name);
          if (prev !== undefined) {
            ctx.addIssue({
              code: "custom",
              path: [i, "name"],
              message: `duplicate name, also origins[${prev}]`,
            });
          } else names.set(o.name, i);
          o.hosts.forEach((h, j) => {
            const route = `${h} ${o.pathPrefix}`;
            const owner = routes.get(route);
            if (owner !== undefined && owner !== i) {
              ctx.addIssue({
                code: "custom",
                path: [i, "hosts", j],
                message: `"${h}" with pathPrefix "${o.pathPrefix}" is already served by origins[${owner}]`,
              });
            } else routes.set(route, i);
          });
        });
      })
      .describe("Origin servers. The shield never fetches anything else."),
    cache: CacheSchema.prefault({}),
    rules: z.array(RuleSchema).default([]).describe("TTL rules, first match wins. Default []."),
    key: KeySchema.prefault({}),
    images: ImagesSchema.prefault({}),
    shield: ShieldSchema.prefault({}),
    edge: EdgeSchema.prefault({}),
    compression: CompressionSchema.prefault({}),
    bypassCookies: z
      .array(cookiePattern)
      .default([])
      .describe(
        'Cookie names whose presence bypasses the cache (a session cookie); "prefix*" matches every name with that prefix. Default [].',
      ),
  })
  .describe("Edge CDN configuration.");

/** The validated config, every default applied. */
export type CdnConfig = output<typeof CdnConfigSchema>;
/** What a user may write: defaulted fields optional. */
export type CdnConfigInput = input<typeof CdnConfigSchema>;
export type OriginConfig = CdnConfig["origins"][number];
export type RuleConfig = CdnConfig["rules"][number];
export type KeySpec = CdnConfig["key"];
export type ImagesConfig = CdnConfig["images"];
export type EdgeConfig = CdnConfig["edge"];
export type ShieldConfig = CdnConfig["shield"];
export type CompressionConfig = CdnConfig["compression"];

/** Validate a config object; throws ConfigError naming every bad field by path. */
export function parseConfig(input: unknown, source?: string): CdnConfig {
  const result = CdnConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw issuesToConfigError(result.error.issues, source);
}

/** Parse and validate JSON text; a syntax error is a ConfigError naming the source. */
export function parseConfigJson(text: string, source?: string): CdnConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw issuesToConfigError([{ path: [], message: `invalid JSON: ${detail}` }], source);
  }
  return parseConfig(value, source);
}
