import type { PolicyOptions } from "./types.ts";

/** The `cache` section of the validated config, as far as the policy reads it. */
export interface CacheSection {
  readonly honorRequestNoCache: boolean;
  readonly heuristicFraction: number;
  readonly maxHeuristicTtl: number;
  readonly defaultStaleWhileRevalidate: number;
  readonly defaultStaleIfError: number;
  readonly keep: number;
  readonly targetedCacheControl: readonly string[];
}

/** Derive the policy's options once, at startup, from the validated config. */
export function policyOptions(cache: CacheSection): PolicyOptions {
  return {
    honorRequestNoCache: cache.honorRequestNoCache,
    heuristicFraction: cache.heuristicFraction,
    maxHeuristicTtl: cache.maxHeuristicTtl,
    defaultStaleWhileRevalidate: cache.defaultStaleWhileRevalidate,
    defaultStaleIfError: cache.defaultStaleIfError,
    keep: cache.keep,
    targetedCacheControl: cache.targetedCacheControl.map((n) => n.toLowerCase()),
  };
}
