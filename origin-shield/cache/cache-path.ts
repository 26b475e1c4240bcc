/**
 * The cache path for one GET or HEAD, whatever makes its responses:
 *
 *   key → lookup → decide (core/policy) →
 *     fresh: hit · stale-while-revalidate: hit + one background revalidation ·
 *     revalidate / miss: join or start the key's fill (collapse/) ·
 *     only-if-cached with nothing usable: 504
 *
 * The caller hands in how a fill gets its response (`fetch`): the origin for a plain
 * request (origin/fetcher.ts), a transform for an image variant (image/route.ts). A hit
 * returns synchronously: no promise on the hot path.
 */
import type { NormalisedUrl } from "../../core/key/index.ts";
import { buildCacheKey } from "../../core/key/index.ts";
import type {
  CacheAction,
  Credentials,
  Decision,
  HeaderPairs,
  HeaderReader,
} from "../../core/policy/index.ts";
import {
  cacheAction,
  decide,
  requestCredentials,
  revalidationHeaders,
  withoutStale,
} from "../../core/policy/index.ts";
import type { Fetcher, FillJob } from "../collapse/fill.ts";
import { rejection } from "../rejection.ts";
import { type ClientRequest, fromStored, type ShieldResponse } from "../respond.ts";
import type { StoredObject } from "../store/stored-object.ts";
import type { CacheDeps } from "./cache-deps.ts";
import { serveFill } from "./serve-fill.ts";
import { slicedMiss } from "./slices.ts";

/** A request the cache answers. */
export interface CacheRequest {
  readonly method: string;
  /** The headers the key and Vary read: the client's, as the origin will receive them. */
  readonly headers: HeaderReader;
  readonly url: NormalisedUrl;
  /**
   * What the response is fetched with, for the sharing rule (core/policy/sharing.ts);
   * by default the request's own (its Authorization, its cookies).
   */
  readonly credentials?: Credentials | undefined;
  /** The normalised URL of what the response is made from, if anything (for purge). */
  readonly derivedFrom?: string | undefined;
  /**
   * Never answer from a stale entry; revalidate it first. For a response that another is
   * made from: a variant made from a soft-purged source must not keep the old pixels.
   */
  readonly noStale?: boolean | undefined;
  /** How a fill for this request gets its response. */
  readonly fetch: Fetcher;
  /**
   * A representation of the URL stored apart from the plain response, by name (the
   * content coding of a compressed copy, compress/route.ts); absent for the response itself.
   */
  readonly variant?: string | undefined;
  /**
   * The stored response the caller has just found for this request in the memory tier,
   * under the key it built the same way (compress/route.ts looks before it routes): the
   * lookup is not made twice on a hit.
   */
  readonly known?: { readonly primary: string; readonly found: StoredObject } | undefined;
}

export function serveFromCache(
  deps: CacheDeps,
  req: CacheRequest,
): ShieldResponse | Promise<ShieldResponse> {
  const known = req.known;
  if (known !== undefined) return answer(deps, req, known.primary, known.found);
  const primary = buildCacheKey(
    { url: req.url, headers: req.headers, method: req.method },
    deps.key,
    req.variant,
  );
  const found = deps.tier.lookup(primary, req.headers);
  if (found instanceof Promise) return found.then((obj) => answer(deps, req, primary, obj));
  return answer(deps, req, primary, found);
}

function answer(
  deps: CacheDeps,
  req: CacheRequest,
  primary: string,
  found: StoredObject | undefined,
): ShieldResponse | Promise<ShieldResponse> {
  const now = deps.now();
  let entry = found;
  if (entry !== undefined && now >= entry.meta.deleteAt) {
    deps.tier.delete(deps.tier.keyOf(entry, req.headers));
    entry = undefined;
  }
  const client: ClientRequest = { method: req.method, headers: req.headers };
  let decision: Decision = decide(client, entry?.meta, now, deps.policy);
  if (req.noStale === true) decision = withoutStale(decision, entry?.meta, now);
  const action = cacheAction(decision, deps.name, entry?.meta);
  switch (action.kind) {
    case "hit": {
      const stored = entry as StoredObject;
      if (action.refresh) {
        const conditional = revalidationHeaders(stored.meta);
        deps.collapser.revalidateInBackground(
          fillJob(deps, req, primary, conditional, stored, true),
        );
      }
      // A hit read from disk or Redis says so (RFC 9211 §2.8 detail); it is in memory now.
      const member =
        stored.from === undefined ? action.member : { ...action.member, detail: stored.from };
      return fromStored(client, stored, action.age, member, action.stale ? "stale" : "hit");
    }
    case "unsatisfiable":
      return rejection(deps.name, {
        status: 504,
        code: "only_if_cached",
        message: "only-if-cached and nothing usable is stored",
      });
    case "revalidate": {
      const job = fillJob(deps, req, primary, action.conditional, entry, true);
      const forwarding = { fwd: action.fwd, entry, staleIfError: action.staleIfError };
      return serveFill(deps, client, job, forwarding);
    }
    case "miss":
      return miss(deps, req, client, primary, entry, action.fwd);
  }
}

function miss(
  deps: CacheDeps,
  req: CacheRequest,
  client: ClientRequest,
  primary: string,
  entry: StoredObject | undefined,
  reason: Extract<CacheAction, { kind: "miss" }>["fwd"],
): Promise<ShieldResponse> {
  const credentials = credentialsOf(deps, req);
  const hitForMiss = deps.collapser.hitForMiss.holds(primary, deps.now(), credentials.cookie);
  // A request with Authorization, or for a key known not to be shareable, fetches on its
  // own: it must not wait on, or be waited on by, anyone else's fetch.
  const shared = !credentials.authorization && !hitForMiss;
  // RFC 9211 §2.2: responses for the URI are stored, but not for this request's values of
  // their Vary fields (the tier's lookup cannot tell the two apart).
  const fwd = reason === "uri-miss" && deps.tier.hasVariants(primary) ? "vary-miss" : reason;
  const job = fillJob(deps, req, primary, [], undefined, shared, credentials);
  const detail = hitForMiss ? "uncacheable" : undefined;
  const whole = () => serveFill(deps, client, job, { fwd, entry, staleIfError: false, detail });
  // A range of an object too large to store: from slices of it (slices.ts).
  const sliced = slicedMiss(deps.largeObjects, deps.now(), req, primary, (slice) =>
    serveFromCache(deps, slice),
  );
  return sliced === null ? whole() : sliced.then((r) => r ?? whole());
}

function credentialsOf(deps: CacheDeps, req: CacheRequest): Credentials {
  return req.credentials ?? requestCredentials(req.headers, deps.policy);
}

function fillJob(
  deps: CacheDeps,
  req: CacheRequest,
  primary: string,
  conditional: HeaderPairs,
  revalidating: StoredObject | undefined,
  shared: boolean,
  credentials: Credentials = credentialsOf(deps, req),
): FillJob {
  return {
    primary,
    id: { url: req.url.url, primary, derivedFrom: req.derivedFrom },
    request: { method: "GET", headers: req.headers },
    credentials,
    path: req.url.path,
    revalidating,
    conditional,
    shared,
    fetch: req.fetch,
  };
}
