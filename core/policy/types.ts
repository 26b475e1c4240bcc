/**
 * Shapes the policy works on. They are structural on purpose: a web `Headers`,
 * undici's `Headers`, workerd's `Headers` and a plain lookup all satisfy
 * `HeaderReader`, so the edge and the shield call the same functions.
 */

/** Anything with a case-insensitive `get`, e.g. a web `Headers`. */
export interface HeaderReader {
  get(name: string): string | null;
}

export interface RequestLike {
  readonly method: string;
  readonly headers: HeaderReader;
}

export interface ResponseLike {
  readonly status: number;
  readonly headers: HeaderReader;
}

/** Stored header fields: lowercase names, original values, in the origin's order. */
export type HeaderPairs = [name: string, value: string][];

/** A HeaderReader over stored pairs (first match; pairs keep lowercase names). */
export function pairsReader(pairs: HeaderPairs): HeaderReader {
  return {
    get(name: string): string | null {
      const lower = name.toLowerCase();
      let found: string | null = null;
      for (const [n, v] of pairs) {
        if (n === lower) found = found === null ? v : `${found}, ${v}`;
      }
      return found;
    },
  };
}

/** The part of a TTL rule the policy applies (see core/config for the full rule). */
export interface RuleEffect {
  /**
   * Only whether the rule names statuses (see applyRuleTtl) and paths (a rule naming a
   * path makes a response fetched with a cookie shareable, sharing.ts) matters here.
   */
  readonly match?:
    | { readonly status?: readonly unknown[] | undefined; readonly path?: unknown }
    | undefined;
  readonly bypass?: boolean | undefined;
  readonly ttl?:
    | {
        readonly set?: number | undefined;
        readonly floor?: number | undefined;
        readonly cap?: number | undefined;
      }
    | undefined;
  readonly staleWhileRevalidate?: number | undefined;
  readonly staleIfError?: number | undefined;
}

/** Policy knobs, derived once from the validated config (see `policyOptions`). */
export interface PolicyOptions {
  /** Honour a client's no-cache / max-age / min-fresh / no-store (default false, as CDNs do). */
  readonly honorRequestNoCache: boolean;
  /** RFC 9111 §4.2.2: fraction of (Date − Last-Modified) used as heuristic lifetime. */
  readonly heuristicFraction: number;
  /** Upper bound on a heuristic lifetime, seconds. */
  readonly maxHeuristicTtl: number;
  /**
   * Freshness of a 404 or 410 the origin gave none for (negative caching), seconds; 0
   * leaves such a response to the heuristic, as RFC 9111 §4.2.2 alone would.
   */
  readonly negativeTtl: number;
  /** Stale windows applied when neither a rule nor the origin sets one, seconds. */
  readonly defaultStaleWhileRevalidate: number;
  readonly defaultStaleIfError: number;
  /** How long an entry with a validator is kept after it can no longer be served, seconds. */
  readonly keep: number;
  /** RFC 9213 targeted fields this cache obeys, in precedence order, lowercase. */
  readonly targetedCacheControl: readonly string[];
  /**
   * Treat requests with cookies like anonymous ones when deciding what to share
   * (default false: see sharing.ts). Only for sites whose cookies never change a page.
   */
  readonly trustCookies: boolean;
  /** Cookie names the cache key holds: they select responses and share nothing. */
  readonly keyedCookies: readonly string[];
}

export const DEFAULT_POLICY_OPTIONS: PolicyOptions = {
  honorRequestNoCache: false,
  heuristicFraction: 0.1,
  maxHeuristicTtl: 86_400,
  negativeTtl: 60,
  defaultStaleWhileRevalidate: 0,
  defaultStaleIfError: 0,
  keep: 3_600,
  targetedCacheControl: ["cdn-cache-control"],
  trustCookies: false,
  keyedCookies: [],
};
