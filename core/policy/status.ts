import type { CacheStatusMember } from "../http/cache-status.ts";
import type { Decision } from "./decide.ts";
import type { EntryMeta } from "./entry.ts";

/**
 * The Cache-Status member (RFC 9211) for what a cache did with a request, so the edge and
 * the shield describe the same decision in the same words.
 *
 * - A response served from the cache without contacting the origin is a `hit`, with the
 *   freshness left as `ttl` (negative when stale: max-stale, stale-while-revalidate).
 * - Otherwise the request was forwarded, and `fwd` says why (§2.2): `uri-miss` (nothing
 *   stored), `vary-miss` (stored, but for other request headers), `method`, `request`
 *   (the request itself asked for it, or carried Authorization), `stale` (stored but
 *   stale: revalidation). `fwd-status` is the status the next hop answered with, and
 *   `stored` whether the response was then stored; `detail` names the reason when not.
 */
export function hitMember(
  cache: string,
  decision: Extract<Decision, { kind: "fresh" | "stale-allowed" | "stale-while-revalidate" }>,
  entry?: Pick<EntryMeta, "lifetimeSource">,
): CacheStatusMember {
  const member: CacheStatusMember = { cache, hit: true, ttl: Math.floor(decision.ttl) };
  if (decision.kind === "stale-while-revalidate") member.detail = "stale-while-revalidate";
  else if (decision.kind === "stale-allowed") member.detail = "max-stale";
  else if (entry?.lifetimeSource === "negative") member.detail = NEGATIVE_DETAIL;
  return member;
}

/**
 * RFC 9211 §2.8 `detail` for a 404 or 410 kept for `cache.negativeTtl` because the
 * origin gave it no freshness (freshness.ts negativeLifetime): on the response that
 * stored it and on each hit, at both tiers.
 */
export const NEGATIVE_DETAIL = "negative-ttl";

/** The `detail` of a response this cache stored: why its lifetime is what it is, if notable. */
export function storedDetail(meta: Pick<EntryMeta, "lifetimeSource">): string | undefined {
  return meta.lifetimeSource === "negative" ? NEGATIVE_DETAIL : undefined;
}

/** Why a decision sends the request forward, as RFC 9211 `fwd`; null when it does not. */
export function forwardReason(decision: Decision): CacheStatusMember["fwd"] | null {
  switch (decision.kind) {
    case "miss":
      return decision.reason === "authorization" ? "request" : decision.reason;
    case "revalidate":
      return decision.reason === "stale" ? "stale" : "request";
    default:
      return null;
  }
}

export interface Forwarded {
  /** RFC 9211 `fwd`: forwardReason(decision), or `bypass` when a rule or config said so. */
  readonly fwd: NonNullable<CacheStatusMember["fwd"]>;
  /** The next hop's status; absent when it could not be reached. */
  readonly status?: number | undefined;
  /** Whether the response was stored; with `false`, `detail` should say why. */
  readonly stored: boolean;
  /** This request waited for another's fetch instead of making its own. */
  readonly collapsed?: boolean | undefined;
  readonly detail?: string | undefined;
}

export function forwardedMember(cache: string, forwarded: Forwarded): CacheStatusMember {
  const member: CacheStatusMember = { cache, fwd: forwarded.fwd };
  if (forwarded.status !== undefined) member.fwdStatus = forwarded.status;
  if (forwarded.stored) member.stored = true;
  if (forwarded.collapsed) member.collapsed = true;
  if (forwarded.detail !== undefined) member.detail = forwarded.detail;
  return member;
}

/**
 * A stale response served because the origin failed (RFC 5861 §4): it was forwarded
 * (`fwd=stale`) and the failure is reported (`fwd-status`, or `detail` for a connection
 * error); the body came from the cache.
 */
export function staleOnErrorMember(cache: string, ttl: number, status?: number): CacheStatusMember {
  const member: CacheStatusMember = {
    cache,
    fwd: "stale",
    ttl: Math.floor(ttl),
    detail: "stale-if-error",
  };
  if (status !== undefined) member.fwdStatus = status;
  return member;
}
