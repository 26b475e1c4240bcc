import type { CdnConfig } from "../config/schema.ts";
import type { PolicyOptions } from "./types.ts";

/** Derive the policy's options once, at startup, from the validated config. */
export function policyOptions({ cache, key }: Pick<CdnConfig, "cache" | "key">): PolicyOptions {
  return {
    honorRequestNoCache: cache.honorRequestNoCache,
    heuristicFraction: cache.heuristicFraction,
    maxHeuristicTtl: cache.maxHeuristicTtl,
    negativeTtl: cache.negativeTtl,
    defaultStaleWhileRevalidate: cache.defaultStaleWhileRevalidate,
    defaultStaleIfError: cache.defaultStaleIfError,
    keep: cache.keep,
    // Header names compare case-insensitively; lookups use the lowercase form.
    targetedCacheControl: cache.targetedCacheControl.map((n) => n.toLowerCase()),
    trustCookies: cache.trustCookies,
    keyedCookies: key.cookies,
  };
}
