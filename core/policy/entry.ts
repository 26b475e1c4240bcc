import type { LifetimeSource } from "./freshness.ts";
import type { HeaderPairs } from "./types.ts";
import type { VaryCapture } from "./vary.ts";

/**
 * Everything a cache keeps about a stored response except its body. Lifetimes are
 * absolute (ms since the epoch) and computed once, when the response is stored, so
 * that every later decision is a few comparisons against `now` (as undici does with
 * cachedAt/staleAt/deleteAt, and Varnish with ttl/grace/keep). Plain data: it
 * serialises to JSON for the disk and Redis tiers and for the edge's metadata.
 */
export interface EntryMeta {
  readonly status: number;
  /** Stored fields: hop-by-hop, Age, Set-Cookie and private/no-cache-listed fields removed. */
  readonly headers: HeaderPairs;
  /** When the request that produced this response was sent (RFC 9111 §4.2.3 request_time). */
  readonly requestTime: number;
  /** When the response was received (response_time). */
  readonly responseTime: number;
  /** corrected_initial_age, seconds. */
  readonly initialAge: number;
  /** Freshness lifetime for this cache after TTL rules, seconds. */
  readonly freshnessLifetime: number;
  readonly lifetimeSource: LifetimeSource;
  /** Fresh while now < freshUntil. */
  readonly freshUntil: number;
  /** May be served stale while one background revalidation runs, until then. */
  readonly staleWhileRevalidateUntil: number;
  /** May be served stale when the origin fails, until then. */
  readonly staleIfErrorUntil: number;
  /** No use remains after this (stale windows passed, and the keep period for revalidation). */
  readonly deleteAt: number;
  /**
   * Never served stale without revalidation, even to a client that asks with max-stale:
   * must-revalidate, proxy-revalidate, s-maxage (§5.2.2.10) or an unqualified no-cache.
   */
  readonly staleForbidden: boolean;
  /** The request values this response was selected by; null when it does not vary. */
  readonly vary: VaryCapture | null;
  /** May be reused for a request carrying Authorization (RFC 9111 §3.5). */
  readonly shareableWithAuthorization: boolean;
  /** Purge tags (Surrogate-Key / Cache-Tag). */
  readonly tags: readonly string[];
}

/** True when the entry has a validator and can be revalidated conditionally. */
export function hasValidator(entry: Pick<EntryMeta, "headers">): boolean {
  return entry.headers.some(([n]) => n === "etag" || n === "last-modified");
}
