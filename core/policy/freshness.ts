import { parseAge } from "../http/age.ts";
import type { CacheControl } from "../http/cache-control.ts";
import { parseHttpDate } from "../http/dates.ts";
import type { SelectedDirectives } from "./directives.ts";
import type { HeaderReader, PolicyOptions } from "./types.ts";

/**
 * RFC 9110 §15.1 lists the status codes that are heuristically cacheable: a cache may
 * store them and assign a heuristic lifetime when the origin gave no explicit one.
 */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([
  200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
]);

export type LifetimeSource =
  | "s-maxage"
  | "max-age"
  | "expires"
  | "no-cache"
  | "heuristic"
  /** A 404 or 410 without explicit freshness, given `cache.negativeTtl` (negativeLifetime). */
  | "negative"
  | "none"
  | "rule";

export interface Lifetime {
  /** Seconds the response is fresh for, counted from its generation (RFC 9111 §4.2.1). */
  readonly seconds: number;
  readonly source: LifetimeSource;
}

/**
 * Explicit freshness lifetime for a shared cache, RFC 9111 §4.2.1, first match wins:
 * s-maxage, max-age, then Expires − Date. An unqualified `no-cache` (§5.2.2.4) means the
 * response may never be used without revalidation: lifetime 0, the most restrictive
 * directive winning (§4.2.1). Under a targeted field Expires is ignored (RFC 9213 §2.2).
 */
export function explicitLifetime(
  selected: SelectedDirectives,
  headers: HeaderReader,
  responseTime: number,
): Lifetime | null {
  const cc = selected.cc;
  if (cc.noCache && cc.noCacheFields === undefined) return { seconds: 0, source: "no-cache" };
  if (cc.sMaxAge !== undefined) return { seconds: cc.sMaxAge, source: "s-maxage" };
  if (cc.maxAge !== undefined) return { seconds: cc.maxAge, source: "max-age" };
  if (selected.targeted !== null) return null;
  const expiresRaw = headers.get("expires");
  if (expiresRaw === null) return null;
  const expires = parseHttpDate(expiresRaw, responseTime);
  // RFC 9111 §5.3: an invalid Expires (notably "0") means "already expired".
  if (expires === null) return { seconds: 0, source: "expires" };
  const date = parseHttpDate(headers.get("date"), responseTime) ?? responseTime;
  return { seconds: Math.max(0, Math.floor((expires - date) / 1000)), source: "expires" };
}

/** Statuses that say "there is nothing here" (RFC 9110 §15.5.5, §15.5.11). */
const NEGATIVE: ReadonlySet<number> = new Set([404, 410]);

/**
 * Negative caching: a 404 or 410 that says nothing about its freshness is kept for
 * `negativeTtl` seconds, so that a burst of requests for a missing object (a scan, a
 * broken link on a busy page) costs the origin one answer per period rather than one per
 * request. RFC 9111 §4.2.2 lets a cache choose the lifetime of such a response (both are
 * heuristically cacheable, RFC 9110 §15.1); this short fixed one is chosen over the
 * Last-Modified fraction because an object that appears after a 404 should be seen soon,
 * and it is counted from the response's generation like any lifetime, so the edge, behind
 * the shield, serves it at most `negativeTtl` seconds after the origin made it.
 * Null when it does not apply (other statuses, or negativeTtl 0).
 */
export function negativeLifetime(status: number, options: PolicyOptions): Lifetime | null {
  if (options.negativeTtl <= 0 || !NEGATIVE.has(status)) return null;
  return { seconds: options.negativeTtl, source: "negative" };
}

/**
 * RFC 9111 §4.2.2: a heuristic lifetime only for heuristically cacheable statuses or
 * responses marked `public`, and only without explicit freshness. We use the
 * customary fraction of the time since Last-Modified, capped by configuration; without
 * Last-Modified there is no basis for a guess and the lifetime is 0.
 */
export function heuristicLifetime(
  status: number,
  cc: CacheControl,
  headers: HeaderReader,
  responseTime: number,
  options: PolicyOptions,
): Lifetime | null {
  // `public` allows a heuristic for any status (§4.2.2), but never for a server error: an
  // old Last-Modified on a 500 page would otherwise keep the error for up to a day.
  if (!HEURISTICALLY_CACHEABLE.has(status) && !(cc.public && status < 500)) return null;
  const lastModified = parseHttpDate(headers.get("last-modified"), responseTime);
  if (lastModified === null) return { seconds: 0, source: "heuristic" };
  const date = parseHttpDate(headers.get("date"), responseTime) ?? responseTime;
  const sinceModified = Math.max(0, (date - lastModified) / 1000);
  const seconds = Math.min(
    options.maxHeuristicTtl,
    Math.floor(sinceModified * options.heuristicFraction),
  );
  return { seconds, source: "heuristic" };
}

/**
 * RFC 9111 §4.2.3, computed once when the response arrives:
 *   apparent_age = max(0, response_time − date_value)
 *   corrected_age_value = age_value + (response_time − request_time)
 *   corrected_initial_age = max(apparent_age, corrected_age_value)
 * An invalid Age is ignored (§5.1); a missing Date counts as the response time.
 * Returns seconds (fractional).
 */
export function correctedInitialAge(
  headers: HeaderReader,
  requestTime: number,
  responseTime: number,
): number {
  const ageValue = parseAge(headers.get("age")) ?? 0;
  const dateValue = parseHttpDate(headers.get("date"), responseTime) ?? responseTime;
  const apparentAge = Math.max(0, responseTime - dateValue) / 1000;
  const responseDelay = Math.max(0, responseTime - requestTime) / 1000;
  return Math.max(apparentAge, ageValue + responseDelay);
}

/** current_age = corrected_initial_age + resident_time (RFC 9111 §4.2.3), seconds. */
export function currentAge(
  entry: { readonly initialAge: number; readonly responseTime: number },
  now: number,
): number {
  return entry.initialAge + Math.max(0, now - entry.responseTime) / 1000;
}
