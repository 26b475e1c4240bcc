/**
 * Serving a stored response because upstream failed (RFC 5861 §4 stale-if-error; RFC
 * 9111 §4.2.4 lets a cache serve stale when it cannot reach the origin): one rule for
 * both tiers, whether the failure was no response at all or a 5xx.
 */
import type { CacheStatusMember } from "../http/cache-status.ts";
import { mayServeStaleOnError } from "./decide.ts";
import type { EntryMeta } from "./entry.ts";
import { currentAge } from "./freshness.ts";
import { staleOnErrorMember } from "./status.ts";

/**
 * Whether what came back from upstream is a failure the stored response may stand in for:
 * no response (`null`: unreachable, timed out, reset, every connection busy) or a 5xx.
 */
export function isUpstreamFailure(status: number | null): boolean {
  return status === null || status >= 500;
}

export interface UpstreamFailure {
  /** The entry the request's decision was about; undefined when none is stored. */
  readonly entry: EntryMeta | undefined;
  /**
   * The decision allowed it: `staleIfError` of a `revalidate` decision (decide.ts). False
   * for a miss, whose stored entry (another Vary variant) cannot answer this request.
   */
  readonly staleIfError: boolean;
  /** Upstream's status; null when no response arrived. */
  readonly status: number | null;
  /** When the failure was seen, ms: the stale-if-error window is checked then. */
  readonly now: number;
  /** This cache's Cache-Status member name. */
  readonly cache: string;
}

export interface StaleOnError {
  /** `fwd=stale`, the failed status or none, the (negative) ttl, `detail=stale-if-error`. */
  readonly member: CacheStatusMember;
  /** The stored response's age at `now`, seconds (RFC 9111 §4.2.3), for Age. */
  readonly age: number;
}

/**
 * The stored response to serve instead of the failure, or null: when upstream did not
 * fail, nothing is stored, the decision did not allow it, or the entry's stale-if-error
 * window has passed.
 */
export function staleOnError(failure: UpstreamFailure): StaleOnError | null {
  const { entry, status, now } = failure;
  if (!isUpstreamFailure(status) || entry === undefined || !failure.staleIfError) return null;
  if (!mayServeStaleOnError(entry, now)) return null;
  const ttl = (entry.freshUntil - now) / 1000;
  return {
    member: staleOnErrorMember(failure.cache, ttl, status ?? undefined),
    age: currentAge(entry, now),
  };
}
