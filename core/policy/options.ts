import type { CdnConfig } from "../config/schema.ts";
import type { PolicyOptions } from "./types.ts";

/** Derive the policy's options once, at startup, from the validated config. */
export function policyOptions(cache: CdnConfig["cache"]): PolicyOptions {
  return {
    honorRequestNoCache: cache.honorRequestNoCache,
    heuristicFraction: cache.heuristicFraction,
    maxHeuristicTtl: cache.maxHeuristicTtl,
    defaultStaleWhileRevalidate: cache.defaultStaleWhileRevalidate,
    defaultStaleIfError: cache.defaultStaleIfError,
    keep: cache.keep,
    // Header names compare case-insensitively; lookups use the lowercase form.
    targetedCacheControl: cache.targetedCacheControl.map((n) => n.toLowerCase()),
  };
}
