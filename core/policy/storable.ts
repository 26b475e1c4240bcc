import { formatHttpDate } from "../http/dates.ts";
import { parseVary } from "../http/vary.ts";
import { requestDirectives, selectDirectives } from "./directives.ts";
import { type EntryMeta, hasValidator } from "./entry.ts";
import {
  correctedInitialAge,
  explicitLifetime,
  heuristicLifetime,
  type Lifetime,
  negativeLifetime,
} from "./freshness.ts";
import { withoutHopByHop } from "./hop-by-hop.ts";
import {
  shareableWithAuthorization as allowsAuthorization,
  type Credentials,
  isExplicitLifetime,
  requestCredentials,
  shareableWithCookie,
} from "./sharing.ts";
import { responseTags } from "./tags.ts";
import type { HeaderReader, PolicyOptions, RequestLike, RuleEffect } from "./types.ts";
import { captureVary } from "./vary.ts";

/** Stable reasons a response was not stored; they appear as `detail=` in Cache-Status. */
export type NotStoredReason =
  | "method"
  | "status"
  | "no-store"
  | "private"
  | "authorization"
  /** Fetched with a cookie the key does not hold, and not explicitly shareable (sharing.ts). */
  | "cookie"
  | "set-cookie"
  | "vary-star"
  | "must-understand"
  | "request-no-store"
  | "rule-bypass"
  | "stale-on-arrival"
  /** An image variant whose source image is not stored (origin-shield/image). */
  | "source-not-stored";

export type StoragePlan =
  | { readonly store: true; readonly meta: EntryMeta }
  | { readonly store: false; readonly reason: NotStoredReason };

/** Header source for a response to be stored: lookups plus iteration (a web `Headers`). */
export interface HeaderSource extends HeaderReader {
  [Symbol.iterator](): Iterator<[string, string]>;
}

export interface StorageInput {
  readonly request: RequestLike;
  readonly response: { readonly status: number; readonly headers: HeaderSource };
  readonly requestTime: number;
  readonly responseTime: number;
  /** The TTL rule that matched this response, if any (core/rules). */
  readonly rule?: RuleEffect | undefined;
  readonly options: PolicyOptions;
  /**
   * The credentials the body was fetched with, when they are not the request's (the
   * request still selects it by its Vary values): NO_CREDENTIALS for a stored body a 304
   * renewed, or an image variant made from a source fetched anonymously.
   */
  readonly credentials?: Credentials | undefined;
}

/**
 * Status codes whose caching requirements this cache implements; `must-understand`
 * (RFC 9111 §5.2.2.3) lets only such responses be stored, and then overrides no-store.
 */
const UNDERSTOOD_STATUS: ReadonlySet<number> = new Set([
  200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 501,
]);

/** Fields never stored whatever the response says (recomputed or per-user). */
const NEVER_STORED: ReadonlySet<string> = new Set(["age", "set-cookie", "set-cookie2"]);

/**
 * May a shared cache store this response, and with which lifetimes (RFC 9111 §3, §4.2)?
 *
 * Precedence, most important first:
 *   1. a bypass rule or a non-GET request: not stored;
 *   2. the origin's safety signals — no-store (unless must-understand), private,
 *      Authorization without public/s-maxage/must-revalidate, Set-Cookie, Vary: * —
 *      always win: no rule makes such a response shared;
 *   3. the rule's ttl (`set` replaces the origin's lifetime, `floor`/`cap` clamp it);
 *   4. the targeted field (CDN-Cache-Control, RFC 9213) over Cache-Control and Expires;
 *   5. for a 404 or 410, the configured negative TTL (freshness.ts negativeLifetime),
 *      else a heuristic for heuristically cacheable statuses (§4.2.2);
 *   6. the sharing rule (sharing.ts): fetched with an unkeyed cookie, only an explicitly
 *      shareable response is stored.
 * Stale windows: the rule's, else the origin's stale-while-revalidate/stale-if-error,
 * else the configured defaults; none at all under must-revalidate, proxy-revalidate or
 * an unqualified no-cache (§4.2.4), and no configured default under s-maxage. Only a
 * response that is fresh on arrival gets any, and the rule's and the default ones only
 * with an explicit lifetime: a page the origin said nothing about, or one kept only to be
 * revalidated, is never served stale.
 */
export function planStorage(input: StorageInput): StoragePlan {
  const { request, response, rule, options } = input;
  if (request.method !== "GET") return notStored("method");
  if (rule?.bypass) return notStored("rule-bypass");
  const status = response.status;
  // 206 and 304 are not complete responses; 1xx are not final (§3).
  if (status < 200 || status === 206 || status === 304 || status > 599) return notStored("status");

  const headers = response.headers;
  const { cc, targeted } = selectDirectives(headers, options.targetedCacheControl);

  if (cc.mustUnderstand && !UNDERSTOOD_STATUS.has(status)) return notStored("must-understand");
  if (cc.noStore && !cc.mustUnderstand) return notStored("no-store");
  if (options.honorRequestNoCache && requestDirectives(request.headers).noStore) {
    return notStored("request-no-store");
  }
  // §5.2.2.7: the qualified form only forbids storing the listed fields.
  if (cc.private && cc.privateFields === undefined) return notStored("private");
  const shareableWithAuthorization = allowsAuthorization(cc);
  const credentials = input.credentials ?? requestCredentials(request.headers, options);
  if (credentials.authorization && !shareableWithAuthorization) {
    return notStored("authorization");
  }
  // RFC 9111 allows storing Set-Cookie responses, but one user's cookie must never reach
  // another; CDNs refuse them by default, and so do we.
  if (headers.get("set-cookie") !== null) return notStored("set-cookie");
  if (parseVary(headers.get("vary")) === "*") return notStored("vary-star");

  const { responseTime, requestTime } = input;
  const initialAge = correctedInitialAge(headers, requestTime, responseTime);
  const origin =
    explicitLifetime({ cc, targeted }, headers, responseTime) ??
    negativeLifetime(status, options) ??
    heuristicLifetime(status, cc, headers, responseTime, options);
  const lifetime = applyRuleTtl(origin, initialAge, rule);
  if (lifetime === null) return notStored("status");
  if (credentials.cookie && !shareableWithCookie(cc, origin, lifetime, initialAge, rule)) {
    return notStored("cookie");
  }

  const freshUntil = responseTime + (lifetime.seconds - initialAge) * 1000;
  const noCacheUnqualified = cc.noCache && cc.noCacheFields === undefined;
  // §4.2.4: the origin's explicit "never stale" wins over every configured window, and a
  // response never fresh here has no stale period to speak of.
  const forbidsStale =
    cc.mustRevalidate || cc.proxyRevalidate || noCacheUnqualified || freshUntil <= responseTime;
  const sMaxAge = cc.sMaxAge !== undefined;
  const explicit = isExplicitLifetime(lifetime);
  const window = (ruleValue?: number, originValue?: number, fallback = 0): number => {
    if (forbidsStale) return 0;
    if (!explicit) return originValue ?? 0;
    return ruleValue ?? originValue ?? (sMaxAge ? 0 : fallback);
  };
  const swr = window(
    rule?.staleWhileRevalidate,
    cc.staleWhileRevalidate,
    options.defaultStaleWhileRevalidate,
  );
  const sie = window(rule?.staleIfError, cc.staleIfError, options.defaultStaleIfError);

  const staleWhileRevalidateUntil = freshUntil + swr * 1000;
  const staleIfErrorUntil = freshUntil + sie * 1000;

  const drop = new Set(NEVER_STORED);
  for (const f of cc.privateFields ?? []) drop.add(f);
  for (const f of cc.noCacheFields ?? []) drop.add(f);
  const stored = withoutHopByHop(headers, drop);
  // RFC 9110 §6.6.1: a cache that stores a response without Date adds one, the time it
  // received it, so that every later hop computes the same age.
  if (headers.get("date") === null) stored.push(["date", formatHttpDate(responseTime)]);
  const usableUntil = Math.max(freshUntil, staleWhileRevalidateUntil, staleIfErrorUntil);
  const deleteAt = usableUntil + (hasValidator({ headers: stored }) ? options.keep * 1000 : 0);
  if (deleteAt <= responseTime) return notStored("stale-on-arrival");

  const vary = captureVary(headers, request.headers);
  return {
    store: true,
    meta: {
      status,
      headers: stored,
      requestTime,
      responseTime,
      initialAge,
      freshnessLifetime: lifetime.seconds,
      lifetimeSource: lifetime.source,
      freshUntil,
      staleWhileRevalidateUntil,
      staleIfErrorUntil,
      deleteAt,
      staleForbidden: forbidsStale || sMaxAge,
      vary: vary === "*" ? null : vary,
      shareableWithAuthorization,
      tags: responseTags(headers),
    },
  };
}

/**
 * A rule's ttl speaks of this cache: how long it serves the response fresh from the
 * moment it arrives (as a Varnish `beresp.ttl` or a Cloudflare Edge TTL does), so the age
 * the response already had upstream is added back to give the lifetime. `set` replaces
 * the origin's freshness; `floor` and `cap` clamp what would remain of it.
 *
 * A rule makes a response cacheable that is not by default (a 302, a 503 without cache
 * headers) only when it names that status in `match.status`: a catch-all `floor` must not
 * turn a passing origin error into a day of errors.
 */
function applyRuleTtl(
  origin: Lifetime | null,
  initialAge: number,
  rule: RuleEffect | undefined,
): Lifetime | null {
  const ttl = rule?.ttl;
  if (ttl === undefined) return origin;
  if (origin === null && rule?.match?.status === undefined) return null;
  if (ttl.set !== undefined) return { seconds: ttl.set + initialAge, source: "rule" };
  const remaining = Math.max(0, (origin?.seconds ?? 0) - initialAge);
  let seconds = remaining;
  if (ttl.floor !== undefined) seconds = Math.max(seconds, ttl.floor);
  if (ttl.cap !== undefined) seconds = Math.min(seconds, ttl.cap);
  if (origin !== null && seconds === remaining) return origin;
  return { seconds: seconds + initialAge, source: "rule" };
}

function notStored(reason: NotStoredReason): StoragePlan {
  return { store: false, reason };
}
