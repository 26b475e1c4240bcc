/**
 * The sharing rule: may a response reach a client other than the one it was fetched for?
 * Every path that can hand one client's response to another asks here, at both tiers:
 * storing it (planStorage), serving a stored copy fresh or stale (decide), and, at the
 * shield, handing a response still arriving to the requests collapsed onto its fetch.
 *
 * A response is shared only when it was explicitly shareable:
 * - never with `private`, `no-store` or `Set-Cookie` (planStorage refuses those outright);
 * - fetched with `Authorization`: only what RFC 9111 §3.5 allows (`public`, `s-maxage`,
 *   `must-revalidate`), and such a copy answers another `Authorization` request only then;
 * - fetched with a cookie the key does not hold: only with explicit freshness from the
 *   origin (`max-age`, `s-maxage` or `Expires` still in the future, any of them through a
 *   targeted field such as CDN-Cache-Control), `public`, or a TTL rule that names the
 *   path. Heuristic freshness (RFC 9111 §4.2.2) is a guess about a page the origin said
 *   nothing about, and that page was made for the cookie's owner. Static assets with a
 *   `max-age` stay shared, as at Cloudflare and Fastly.
 * A copy kept only so that it can be revalidated (no freshness left on arrival) is never
 * served without a successful revalidation, and never to a collapsed follower.
 */
import type { CacheControl } from "../http/cache-control.ts";
import { selectDirectives } from "./directives.ts";
import type { EntryMeta } from "./entry.ts";
import type { Lifetime, LifetimeSource } from "./freshness.ts";
import type { HeaderReader, PolicyOptions, RequestLike, RuleEffect } from "./types.ts";
import { captureVary, varyMatches } from "./vary.ts";

/**
 * What a request carried that may have made the origin answer for that client alone.
 * Both may be present, and then both rules apply.
 */
export interface Credentials {
  readonly authorization: boolean;
  /** A cookie the key does not hold (and cookies are not trusted). */
  readonly cookie: boolean;
}

export function requestCredentials(
  headers: HeaderReader,
  options: Pick<PolicyOptions, "trustCookies" | "keyedCookies">,
): Credentials {
  return {
    authorization: headers.get("authorization") !== null,
    cookie: !options.trustCookies && hasUnkeyedCookie(headers.get("cookie"), options.keyedCookies),
  };
}

/**
 * Whether a Cookie header carries anything but cookies the key holds: a cookie in the
 * key only ever selects responses stored for the same value, so it shares nothing. A
 * pair without "=" is a cookie too (browsers send a nameless cookie's value alone).
 */
export function hasUnkeyedCookie(header: string | null, keyed: readonly string[]): boolean {
  if (header === null) return false;
  let start = 0;
  const len = header.length;
  while (start < len) {
    let end = header.indexOf(";", start);
    if (end === -1) end = len;
    const pair = header.slice(start, end);
    start = end + 1;
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq === -1 || !keyed.includes(pair.slice(0, eq).trim())) return true;
  }
  return false;
}

/**
 * For a response that was not fetched with the request's credentials, whatever that
 * request carries: a stored body a 304 renewed for another client (it was stored, so it
 * passed the rule when it was fetched), an image made from a source fetched anonymously.
 */
export const NO_CREDENTIALS: Credentials = { authorization: false, cookie: false };

/** §3.5: what lets a response to a request with Authorization be shared. */
export function shareableWithAuthorization(cc: CacheControl): boolean {
  return cc.public || cc.mustRevalidate || cc.sMaxAge !== undefined;
}

const EXPLICIT: ReadonlySet<LifetimeSource> = new Set(["s-maxage", "max-age", "expires"]);

/**
 * Freshness someone stated rather than guessed: the origin's `s-maxage`, `max-age` or
 * `Expires`, or a TTL rule's. Default and rule stale windows apply only to these.
 */
export function isExplicitLifetime(lifetime: Lifetime): boolean {
  return EXPLICIT.has(lifetime.source) || lifetime.source === "rule";
}

/**
 * May a response fetched with an unkeyed cookie be shared (see above)? `origin` is the
 * lifetime the origin gave (before any rule), `lifetime` the one in effect.
 */
export function shareableWithCookie(
  cc: CacheControl,
  origin: Lifetime | null,
  lifetime: Lifetime,
  initialAge: number,
  rule: RuleEffect | undefined,
): boolean {
  if (cc.public) return true;
  if (origin !== null && EXPLICIT.has(origin.source) && origin.seconds > initialAge) return true;
  return lifetime.source === "rule" && rule?.match?.path !== undefined;
}

/**
 * Was the stored copy ever fresh? One that arrived with no freshness left is kept only to
 * be revalidated: max-stale, stale windows and collapsed followers never get it.
 */
export function wasFresh(entry: Pick<EntryMeta, "freshUntil" | "responseTime">): boolean {
  return entry.freshUntil > entry.responseTime;
}

/**
 * May this stored (or just fetched) response answer `request`, as far as who asks is
 * concerned? Its Vary fields must select it (RFC 9111 §4.1), and a request with
 * Authorization is answered only from a response explicitly shareable with one: reusing a
 * page stored for everyone could show a logged-in user the anonymous page, and the other
 * way round is worse.
 */
export function selectsFor(
  entry: Pick<EntryMeta, "vary" | "shareableWithAuthorization">,
  request: RequestLike,
): "ok" | "vary-miss" | "authorization" {
  if (!varyMatches(entry.vary, request.headers)) return "vary-miss";
  if (!entry.shareableWithAuthorization && request.headers.get("authorization") !== null) {
    return "authorization";
  }
  return "ok";
}

/**
 * May a collapsed follower be handed the response its leader's fetch is receiving? Only
 * what could have been stored and served to it as a fresh hit: storable, fresh on arrival
 * (a copy kept only for revalidation must be revalidated for each client), and selected
 * by the follower's own request.
 */
export function followerMayShare(
  plan: { readonly store: true; readonly meta: EntryMeta } | { readonly store: false },
  follower: RequestLike,
): boolean {
  return plan.store && wasFresh(plan.meta) && selectsFor(plan.meta, follower) === "ok";
}

/**
 * May an origin's error (5xx, or 429 Too Many Requests) be handed to the followers
 * waiting on the fetch that got it, instead of each making a fetch of its own? That
 * spares an origin that is failing the herd it would otherwise get. It is not stored,
 * and it is never shared when it carries a private marker (`private`, `Set-Cookie`, `Set-Cookie2`) or
 * varies on a field whose value differs in the follower's request (or on `*`).
 */
export function followerMayShareError(
  status: number,
  response: HeaderReader,
  leader: RequestLike,
  follower: RequestLike,
  options: Pick<PolicyOptions, "targetedCacheControl">,
): boolean {
  if (status < 500 && status !== 429) return false;
  const { cc } = selectDirectives(response, options.targetedCacheControl);
  // Set-Cookie2 (RFC 2965, obsolete but still sent) is as per-user as Set-Cookie.
  if (cc.private || response.get("set-cookie") !== null || response.get("set-cookie2") !== null) {
    return false;
  }
  const vary = captureVary(response, leader.headers);
  return vary !== "*" && varyMatches(vary, follower.headers);
}
