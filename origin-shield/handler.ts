/**
 * The shield's request handling, transport-neutral: (request) → response data. Hits
 * return synchronously (no promise on the hot path); everything that reaches an origin
 * is asynchronous.
 *
 *   route → key → lookup → decide (core/policy) →
 *     fresh: hit · stale-while-revalidate: hit + one background revalidation ·
 *     revalidate / miss: join or start the key's flight (collapse) · method: pass
 */

import type { OriginConfig } from "../core/config/index.ts";
import { hasAnyCookie } from "../core/key/cookies.ts";
import { buildCacheKey, type NormalisedUrl, normaliseUrl } from "../core/key/index.ts";
import type { Credentials, Decision, HeaderReader } from "../core/policy/index.ts";
import {
  decide,
  forwardedView,
  forwardReason,
  hitMember,
  isSafeMethod,
  NO_CREDENTIALS,
  requestCredentials,
  revalidationHeaders,
  withoutStale,
} from "../core/policy/index.ts";
import { routeOrigin } from "../core/routing/index.ts";
import { matchRequestRule } from "../core/rules/index.ts";
import { transformSourcePath } from "../core/variant/index.ts";
import { type FillJob, type Flight, startFlight } from "./collapse/flight.ts";
import type { ShieldContext } from "./context.ts";
import { type NodeHeaders, nodeHeaderReader } from "./http/headers.ts";
import { type ImageJob, produceVariant } from "./image/produce.ts";
import { imageRequest } from "./image/route.ts";
import { forwardHeaders } from "./origin/forward.ts";
import { invalidate, pass } from "./pass.ts";
import { errorResponse, fromStored, type ShieldResponse } from "./respond.ts";
import { forwardUrl, parseAuthority } from "./routing.ts";
import type { StoredObject } from "./store/memory.ts";
import { awaitFlight, type FetchContext } from "./wait.ts";

export interface ShieldRequest {
  readonly method: string;
  /** The request-target as received: origin-form "/p?q" or absolute-form "http://h/p". */
  readonly target: string;
  readonly headers: NodeHeaders;
  readonly remoteAddress: string | undefined;
  /** The client reached us over TLS. */
  readonly secure: boolean;
  /** The request body, for methods that carry one. */
  readonly body: AsyncIterable<Uint8Array> | null;
  /**
   * Internal requests only (a variant's source): never answer from a stale entry; a
   * stale one is revalidated first. Otherwise a variant made from a soft-purged source
   * would keep the old pixels under the source's still-fresh headers.
   */
  readonly noStale?: boolean;
}

/** What the handler found out about a request before deciding (also for logs). */
export interface Prepared {
  readonly reader: HeaderReader;
  readonly url: NormalisedUrl;
  /** The configured origin that serves it (core/routing). */
  readonly origin: OriginConfig;
  readonly proto: string;
  readonly authority: string;
  /** The X-Forwarded-For chain this node vouches for (http/client-address.ts). */
  readonly forwardedFor: string | null;
  /** An image variant (image/route.ts): made by transforming its source, not fetched. */
  readonly image?: ImageJob | undefined;
}

export function handle(
  ctx: ShieldContext,
  req: ShieldRequest,
): ShieldResponse | Promise<ShieldResponse> {
  const prepared = prepare(ctx, req);
  if ("status" in prepared) return prepared;
  if (prepared.url.path.startsWith(ctx.config.images.transformPrefix)) {
    return imageRequest(ctx, req, prepared);
  }
  const method = req.method;
  if (method !== "GET" && method !== "HEAD") {
    return pass(ctx, req, prepared, {
      fwd: "method",
      body: true,
      onResponse: isSafeMethod(method)
        ? undefined
        : (status, headers) => invalidate(ctx, method, prepared, status, headers),
    });
  }
  return cacheable(ctx, req, prepared);
}

function prepare(ctx: ShieldContext, req: ShieldRequest): Prepared | ShieldResponse {
  const headers = req.headers;
  let target = req.target;
  let authorityValue: string | undefined;
  if (target.charCodeAt(0) !== 0x2f) {
    // RFC 9112 §3.2.2: absolute-form; its authority replaces Host. It can still only
    // name a configured host: routing below is the only way to a fetch.
    const m = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(target);
    if (m === null)
      return bad(ctx, 400, "bad_target", "request target must be a path or an http(s) URL");
    authorityValue = m[1] as string;
    target = m[2] === "" ? "/" : (m[2] as string);
    if (target.charCodeAt(0) !== 0x2f) target = `/${target}`;
  }
  const trust = ctx.config.shield.trustForwardedHost;
  const forwardedHost = trust ? firstValue(headers["x-forwarded-host"]) : undefined;
  const hostValue = authorityValue ?? forwardedHost ?? firstValue(headers.host);
  if (hostValue === undefined || hostValue === "") {
    return bad(ctx, 400, "missing_host", "the request names no host");
  }
  const parsed = parseAuthority(hostValue);
  if (parsed === null) return bad(ctx, 400, "bad_host", "the Host is not a valid host[:port]");
  const xfp = trust ? firstValue(headers["x-forwarded-proto"]) : undefined;
  const proto = xfp === "https" || (xfp === undefined && req.secure) ? "https" : "http";
  let url: NormalisedUrl;
  try {
    url = normaliseUrl(`${proto}://${parsed.authority}${target}`, ctx.config.key);
  } catch {
    return bad(ctx, 400, "bad_target", "the request target is not a valid URL path");
  }
  // A transform is routed by its source image, which is what will be fetched.
  const routePath = transformSourcePath(url.path, ctx.config.images.transformPrefix);
  const origin = routeOrigin(ctx.router, parsed.hostname, routePath);
  if (origin === null) {
    // RFC 9110 §15.5.20: this server is not able to produce a response for that host.
    return bad(
      ctx,
      421,
      "unknown_host",
      `no origin is configured for ${parsed.hostname}${url.path}`,
    );
  }
  const chain = forwardedFor(ctx, req);
  return {
    // What the origin will receive, as the key and Vary must see it (core forwardedView).
    reader: forwardedView(nodeHeaderReader(headers), req.method, {
      host: url.host,
      proto,
      forwardedFor: chain,
    }),
    url,
    origin,
    proto,
    authority: parsed.authority,
    forwardedFor: chain,
  };
}

export function cacheable(
  ctx: ShieldContext,
  req: ShieldRequest,
  p: Prepared,
): ShieldResponse | Promise<ShieldResponse> {
  const { reader, url } = p;
  const method = req.method;
  // A variant is made here, never passed to an origin: cookies and bypass rules apply
  // to its source's fetch (which carries no cookie), not to it.
  if (p.image === undefined) {
    const bypassCookies = ctx.config.bypassCookies;
    if (bypassCookies.length > 0 && hasAnyCookie(reader.get("cookie"), bypassCookies)) {
      return pass(ctx, req, p, { fwd: "bypass", detail: "bypass-cookie", body: false });
    }
    const rule = matchRequestRule(ctx.rules, { method, path: url.path });
    if (rule?.rule.bypass) {
      return pass(ctx, req, p, { fwd: "bypass", detail: "rule", body: false });
    }
  }

  const primary = buildCacheKey({ url, headers: reader, method }, ctx.config.key);
  const now = ctx.now();
  let obj = ctx.store.lookup(primary, reader);
  if (obj !== undefined && now >= obj.meta.deleteAt) {
    ctx.store.delete(ctx.store.keyOf(obj, reader));
    obj = undefined;
  }
  const request = { method, headers: reader };
  let d: Decision = decide(request, obj?.meta, now, ctx.options);
  if (req.noStale === true) d = withoutStale(d, obj?.meta, now);
  switch (d.kind) {
    case "fresh":
    case "stale-allowed":
      return fromStored(
        request,
        obj as StoredObject,
        d.age,
        hitMember(ctx.name, d),
        d.kind === "fresh" ? "hit" : "stale",
      );
    case "stale-while-revalidate": {
      const entry = obj as StoredObject;
      revalidateInBackground(ctx, req, p, primary, entry);
      return fromStored(request, entry, d.age, hitMember(ctx.name, d), "stale");
    }
    case "unsatisfiable":
      return bad(ctx, 504, "only_if_cached", "only-if-cached and nothing usable is stored");
    case "revalidate": {
      const job = fillJob(ctx, req, p, primary, {
        conditional: d.conditional,
        entry: obj,
        shared: true,
      });
      const f: FetchContext = { fwd: "stale", entry: obj, staleIfError: d.staleIfError };
      return awaitFlight(ctx, req, job, { ...f, fwd: forwardReason(d) ?? "stale" });
    }
    case "miss": {
      const credentials = requestCredentials(reader, ctx.options);
      const hitForMiss = ctx.uncacheable.holds(primary, now, credentials.cookie);
      // A request with Authorization, or for a key known not to be shareable, fetches
      // on its own: it must not wait on, or be waited on by, anyone else's fetch.
      const shared = !credentials.authorization && !hitForMiss;
      const job = fillJob(ctx, req, p, primary, {
        conditional: [],
        entry: undefined,
        shared,
        credentials,
      });
      let fwd = forwardReason(d) ?? "miss";
      // RFC 9211 §2.2: responses for the URI are stored, but not for this request's
      // values of their Vary fields (the tier's lookup cannot tell the two apart).
      if (fwd === "uri-miss" && ctx.store.hasVariants(primary)) fwd = "vary-miss";
      return awaitFlight(ctx, req, job, {
        fwd,
        entry: obj,
        staleIfError: false,
        detail: hitForMiss ? "uncacheable" : undefined,
      });
    }
  }
}

function fillJob(
  ctx: ShieldContext,
  req: ShieldRequest,
  p: Prepared,
  primary: string,
  o: {
    conditional: [string, string][];
    entry: StoredObject | undefined;
    shared: boolean;
    /** The request's, when already read. */
    credentials?: Credentials;
  },
): FillJob {
  const image = p.image;
  return {
    primary,
    url: p.url.url,
    forwardUrl: forwardUrl(p.origin, p.url),
    originName: p.origin.name,
    headers: forwardHeaders(req.headers, {
      method: "GET",
      via: ctx.name,
      forwardedFor: p.forwardedFor,
      proto: p.proto,
      host: p.url.host,
      fill: true,
      withBody: false,
      extra: o.conditional,
    }),
    request: { method: "GET", headers: p.reader },
    // A variant is made from a source fetched without the client's credentials, so they
    // have no say in whom it may be shared with.
    credentials:
      image !== undefined
        ? NO_CREDENTIALS
        : (o.credentials ?? requestCredentials(p.reader, ctx.options)),
    path: image?.sourcePath ?? p.url.path,
    revalidating: o.entry,
    shared: o.shared,
    produce:
      image === undefined
        ? undefined
        : (conditional) => produceVariant(ctx, req, p, image, conditional),
    source: image?.sourceUrl,
  };
}

/** RFC 5861 §3: one background revalidation per key; the client already has its answer. */
function revalidateInBackground(
  ctx: ShieldContext,
  req: ShieldRequest,
  p: Prepared,
  primary: string,
  entry: StoredObject,
): void {
  if (ctx.flights.has(primary)) return;
  const conditional = revalidationHeaders(entry.meta);
  const flight: Flight = startFlight(
    ctx,
    fillJob(ctx, req, p, primary, { conditional, entry, shared: true }),
  );
  const done = flight.done.catch((err: unknown) =>
    ctx.log.warn({ err }, "background revalidation failed"),
  );
  ctx.background.add(done);
  void done.finally(() => ctx.background.delete(done));
}

/** The X-Forwarded-For chain this node vouches for (http/client-address.ts). */
function forwardedFor(ctx: ShieldContext, req: ShieldRequest): string | null {
  const claimed = req.headers["x-forwarded-for"];
  const chain = Object.hasOwn(req.headers, "x-forwarded-for") ? claimed : undefined;
  return ctx.proxies.forwardedFor(
    req.remoteAddress,
    chain === undefined ? null : typeof chain === "string" ? chain : chain.join(", "),
  );
}

function firstValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = typeof v === "string" ? v : v[0];
  if (s === undefined) return undefined;
  const comma = s.indexOf(",");
  return (comma < 0 ? s : s.slice(0, comma)).trim();
}

/** A refusal, with this cache's Cache-Status member (detail: the code) like every answer. */
function bad(ctx: ShieldContext, status: number, code: string, message: string): ShieldResponse {
  return errorResponse({ status, code, message }, "rejected", { cache: ctx.name, detail: code });
}
