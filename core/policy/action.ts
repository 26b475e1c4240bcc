/**
 * What a cache does with a Decision (decide.ts), with the Cache-Status words for it
 * (status.ts), so that both tiers switch over the same four cases and forward with the
 * same `fwd`.
 */
import type { CacheStatusMember } from "../http/cache-status.ts";
import type { Decision, MissReason } from "./decide.ts";
import type { EntryMeta } from "./entry.ts";
import { hitMember } from "./status.ts";
import type { HeaderPairs } from "./types.ts";

export type CacheAction =
  /**
   * Serve the stored response with `member` and `age` (seconds). `stale`: it is past its
   * freshness (max-stale, stale-while-revalidate); `refresh`: start one background
   * revalidation as well (RFC 5861 §3).
   */
  | {
      readonly kind: "hit";
      readonly age: number;
      readonly stale: boolean;
      readonly refresh: boolean;
      readonly member: CacheStatusMember;
    }
  /**
   * Ask upstream with `conditional` (the entry's validators; empty: a full fetch). With
   * `staleIfError` the entry may be served if upstream fails (stale-on-error.ts).
   */
  | {
      readonly kind: "revalidate";
      readonly fwd: "stale" | "request";
      readonly conditional: HeaderPairs;
      readonly staleIfError: boolean;
    }
  /** Nothing stored answers it: fetch, and store per the policy. */
  | { readonly kind: "miss"; readonly fwd: Exclude<MissReason, "authorization"> | "request" }
  /** only-if-cached with nothing usable: answer 504 `only_if_cached` (RFC 9111 §5.2.1.7). */
  | { readonly kind: "unsatisfiable" };

/**
 * The action for `decision`; `cache` is this cache's Cache-Status member name, `entry`
 * the stored entry decided on (a hit on a negatively cached 404 says so, status.ts).
 */
export function cacheAction(
  decision: Decision,
  cache: string,
  entry?: Pick<EntryMeta, "lifetimeSource">,
): CacheAction {
  switch (decision.kind) {
    case "fresh":
    case "stale-allowed":
    case "stale-while-revalidate":
      return {
        kind: "hit",
        age: decision.age,
        stale: decision.kind !== "fresh",
        refresh: decision.kind === "stale-while-revalidate",
        member: hitMember(cache, decision, entry),
      };
    case "revalidate":
      return {
        kind: "revalidate",
        fwd: decision.reason === "stale" ? "stale" : "request",
        conditional: decision.conditional,
        staleIfError: decision.staleIfError,
      };
    case "miss":
      return {
        kind: "miss",
        fwd: decision.reason === "authorization" ? "request" : decision.reason,
      };
    case "unsatisfiable":
      return { kind: "unsatisfiable" };
  }
}
