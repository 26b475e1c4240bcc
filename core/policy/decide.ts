import type { CacheControl } from "../http/cache-control.ts";
import { revalidationHeaders } from "./conditional.ts";
import { requestDirectives } from "./directives.ts";
import type { EntryMeta } from "./entry.ts";
import { currentAge } from "./freshness.ts";
import { selectsFor, wasFresh } from "./sharing.ts";
import type { HeaderPairs, PolicyOptions, RequestLike } from "./types.ts";

/** Why a request goes forward; the names follow RFC 9211 `fwd` where one fits. */
export type MissReason = "uri-miss" | "vary-miss" | "method" | "authorization";

export type RevalidateReason =
  | "stale"
  | "request-no-cache"
  | "request-max-age"
  | "request-min-fresh";

/**
 * The outcome of looking a request up against one stored entry, as tagged data, in the
 * manner of Varnish's lookup results (hit, grace, miss, …):
 * - `fresh`: serve it.
 * - `stale-allowed`: stale, but the client's max-stale accepts it (§5.2.1.2): serve it.
 * - `stale-while-revalidate`: serve it now and refresh in the background (RFC 5861 §3).
 * - `revalidate`: ask the origin (conditionally when there is a validator); if the origin
 *   fails and `staleIfError` is true, the stored response may still be served (RFC 5861 §4).
 * - `miss`: the entry cannot answer this request at all.
 * - `unsatisfiable`: only-if-cached and nothing usable: answer 504 (§5.2.1.7).
 * Ages and ttls are seconds; `ttl` is the freshness left and is negative when stale.
 */
export type Decision =
  | { readonly kind: "fresh"; readonly age: number; readonly ttl: number }
  | { readonly kind: "stale-allowed"; readonly age: number; readonly ttl: number }
  | { readonly kind: "stale-while-revalidate"; readonly age: number; readonly ttl: number }
  | {
      readonly kind: "revalidate";
      readonly reason: RevalidateReason;
      readonly age: number;
      readonly ttl: number;
      readonly conditional: HeaderPairs;
      readonly staleIfError: boolean;
    }
  | { readonly kind: "miss"; readonly reason: MissReason }
  | { readonly kind: "unsatisfiable" };

/**
 * Decide what to do with `request` given the stored `entry` (or none) at time `now` (ms).
 * Pure: the clock is a parameter and nothing is mutated.
 */
export function decide(
  request: RequestLike,
  entry: EntryMeta | undefined,
  now: number,
  options: PolicyOptions,
): Decision {
  const method = request.method;
  if (method !== "GET" && method !== "HEAD") return { kind: "miss", reason: "method" };
  // Request directives are parsed only on paths that read them: with default options a
  // fresh hit never does (this function runs on every hit).
  let rcc: CacheControl | undefined;

  if (entry === undefined) return unlessOnlyIfCached(request, { kind: "miss", reason: "uri-miss" });
  // The sharing rule (sharing.ts): Vary must select the entry, and a request with
  // Authorization is answered only from a response explicitly shareable with one.
  const selects = selectsFor(entry, request);
  if (selects !== "ok") return unlessOnlyIfCached(request, { kind: "miss", reason: selects });

  const age = currentAge(entry, now);
  const ttl = (entry.freshUntil - now) / 1000;

  // §5.2.1: a client's own limits. CDNs ignore them by default (a client must not be able
  // to force origin traffic); with honorRequestNoCache they are obeyed.
  if (options.honorRequestNoCache) {
    rcc = requestDirectives(request.headers);
    let reason: RevalidateReason | null = null;
    if (rcc.noCache) reason = "request-no-cache";
    else if (rcc.maxAge !== undefined && age > rcc.maxAge) reason = "request-max-age";
    else if (rcc.minFresh !== undefined && ttl < rcc.minFresh) reason = "request-min-fresh";
    if (reason !== null) return revalidate(entry, reason, age, ttl, now, rcc);
  }
  if (now < entry.freshUntil) return { kind: "fresh", age, ttl };

  // Stale from here on (§4.2.4). A copy that was never fresh was kept only to be
  // revalidated: no max-stale makes it servable (planStorage also marks it staleForbidden).
  rcc ??= requestDirectives(request.headers);
  if (
    rcc.maxStale !== undefined &&
    !entry.staleForbidden &&
    wasFresh(entry) &&
    -ttl <= rcc.maxStale
  ) {
    return { kind: "stale-allowed", age, ttl };
  }
  if (now < entry.staleWhileRevalidateUntil) return { kind: "stale-while-revalidate", age, ttl };
  return revalidate(entry, "stale", age, ttl, now, rcc);
}

function revalidate(
  entry: EntryMeta,
  reason: RevalidateReason,
  age: number,
  ttl: number,
  now: number,
  rcc: Pick<CacheControl, "onlyIfCached">,
): Decision {
  if (rcc.onlyIfCached) return { kind: "unsatisfiable" };
  return {
    kind: "revalidate",
    reason,
    age,
    ttl,
    conditional: revalidationHeaders(entry),
    staleIfError: now < entry.staleIfErrorUntil,
  };
}

/**
 * The same decision for a request that must not be answered stale (the shield's fetch of
 * an image variant's source): what would have been served stale is revalidated first.
 */
export function withoutStale(
  decision: Decision,
  entry: EntryMeta | undefined,
  now: number,
): Decision {
  const kind = decision.kind;
  if (entry === undefined || (kind !== "stale-while-revalidate" && kind !== "stale-allowed")) {
    return decision;
  }
  return revalidate(entry, "stale", decision.age, decision.ttl, now, { onlyIfCached: false });
}

/** only-if-cached (§5.2.1.7): with nothing usable stored, answer 504 instead of forwarding. */
function unlessOnlyIfCached(request: RequestLike, decision: Decision): Decision {
  return requestDirectives(request.headers).onlyIfCached ? { kind: "unsatisfiable" } : decision;
}

/**
 * After the origin failed (5xx, timeout, refused connection) may the stored response be
 * served instead? RFC 5861 §4, within the entry's stale-if-error window; `now` is the
 * time of the failure, not of the decision.
 */
export function mayServeStaleOnError(entry: EntryMeta, now: number): boolean {
  return now < entry.staleIfErrorUntil;
}
