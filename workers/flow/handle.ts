/**
 * The request flow: normalise and key the request with core/ → Cache API lookup →
 * decide (core/policy) → serve a fresh hit with Age; serve a stale one within
 * stale-while-revalidate and refresh it in the background; otherwise forward to the
 * shield node that owns the key, store per policy and respond. Methods other than GET
 * and HEAD, bypass cookies and bypass rules pass through without touching the cache
 * (core/policy/disposition.ts, as at the shield).
 * Paths reserved for the tiers' own endpoints (../request/reserved-path.ts) are refused
 * before anything else, on every host.
 */
import {
  buildCacheKey,
  type NormalisedUrl,
  normaliseUrl,
  storageName,
} from "../../core/key/index.ts";
import { cacheAction, decide, requestDisposition } from "../../core/policy/index.ts";
import { hostnameOf, routeOrigin } from "../../core/routing/index.ts";
import {
  isTransformPath,
  NO_CLIENT_HINTS,
  readClientHints,
  transformSourcePath,
} from "../../core/variant/index.ts";
import { discard } from "../cache/body.ts";
import type { EntryStore, Lookup } from "../cache/entry-store.ts";
import { RequestStore } from "../cache/request-store.ts";
import type { EdgeRuntime } from "../config/runtime.ts";
import { EdgeError } from "../errors.ts";
import { type EdgeHop, startHop } from "../observe/request-log.ts";
import { clientCoding } from "../request/accept-encoding.ts";
import { clientAddress } from "../request/forward-headers.ts";
import {
  type InvalidImage,
  negotiateImageVariant,
  refuseUnsigned,
} from "../request/image-request.ts";
import { reservedNamespace } from "../request/reserved-path.ts";
import type { NodeHealth } from "../upstream/node-health.ts";
import { type BackgroundTasks, type EdgeRequest, policyView } from "./edge-request.ts";
import { fetchAndStore } from "./miss.ts";
import { passThrough } from "./pass.ts";
import { fromStored } from "./respond.ts";
import { revalidateInBackground, revalidateNow } from "./revalidate.ts";

export interface HandleOptions {
  readonly store: EntryStore;
  readonly clock: () => number;
  /** This isolate's marks on shield nodes that failed. */
  readonly health: NodeHealth;
  /** EDGE_SHIELD_SECRET: requests to shields are signed with it; undefined: unsigned. */
  readonly shieldSecret: string | undefined;
  /** The request's trace and timings (observe/request-log.ts); default: started here. */
  readonly hop?: EdgeHop | undefined;
}

export async function handleEdgeRequest(
  rt: EdgeRuntime,
  client: Request,
  exec: BackgroundTasks,
  { store, clock, health, shieldSecret, hop }: HandleOptions,
): Promise<Response> {
  const now = clock();
  const name = rt.edge.cacheStatusName;
  const url = normaliseUrl(client.url, rt.config.key);
  if (reservedNamespace(url.path) !== null) {
    return new EdgeError("not_found", "no such path").toResponse({ cache: name });
  }
  // A transform is routed by its source image's path, as the shield routes it.
  const routePath = transformSourcePath(url.path, rt.config.images.transformPrefix);
  const origin = routeOrigin(rt.origins, url.host, routePath);
  if (origin === null) {
    const message = `no origin is configured for ${hostnameOf(url.host)}${url.path}`;
    return new EdgeError("unknown_host", message).toResponse({ cache: name });
  }
  const images = rt.config.images;
  const transform = isTransformPath(url.path, images.transformPrefix);
  // A forged or unsigned transform URL is refused here, before any lookup or fetch. Other
  // methods go on to the shield, which refuses them (405) before it checks a signature.
  if (transform && images.signing.secret !== undefined && isGetOrHead(client.method)) {
    const refused = await refuseUnsigned(url.path, url.query, images);
    if (refused !== null) return refuse(refused, name);
  }
  const hints = transform ? readClientHints(client.headers) : NO_CLIENT_HINTS;
  const image = negotiateImageVariant(url.path, client.headers.get("accept"), images, hints);
  if (image.kind === "invalid") return refuse(image, name);
  const accept = image.kind === "image" ? image.accept : undefined;
  const forwardedFor = clientAddress(client.headers);
  const acceptEncoding = clientCoding(client);
  const policyHeaders = policyView(client.headers, {
    accept,
    acceptEncoding,
    host: url.host,
    scheme: url.scheme,
    forwardedFor,
  });
  const er: EdgeRequest = {
    rt,
    client,
    exec,
    store: new RequestStore(store, policyHeaders),
    upstream: { health, clock, secret: shieldSecret },
    hop: hop ?? startHop(client),
    clock,
    now,
    name,
    origin,
    scheme: url.scheme,
    host: url.host,
    forwardedFor,
    path: image.kind === "image" ? image.path : url.path,
    query: url.query,
    accept,
    acceptEncoding,
    varyAccept: image.kind === "image" && image.varyAccept,
    varyHints: image.kind === "image" ? image.varyHints : [],
    policyHeaders,
    purgeUrls: purgeUrlsOf(url, image.kind === "image" ? image.purgePaths : []),
  };
  const variant = image.kind === "image" ? image.variant : null;
  const key = buildCacheKey(
    {
      url: { ...url, path: image.kind === "image" ? image.keyPath : url.path },
      headers: er.policyHeaders,
      method: client.method,
    },
    rt.config.key,
    variant,
  );

  const disposition = requestDisposition(
    { method: client.method, path: er.path, cookie: client.headers.get("cookie") },
    rt,
  );
  if (disposition.kind === "pass") return passThrough(er, key, disposition);
  return serveCacheable(er, key);
}

function isGetOrHead(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

function refuse(image: InvalidImage, name: string): Response {
  return new EdgeError(image.code, image.message, image.option).toResponse({ cache: name });
}

/**
 * The request's normalised URL, then the same host and query with each of `paths`: what
 * a purge may name to reach the entry (the shield indexes the same URLs).
 */
function purgeUrlsOf(url: NormalisedUrl, paths: readonly string[]): readonly string[] {
  if (paths.length === 0) return [url.url];
  const query = url.query === "" ? "" : `?${url.query}`;
  const out = new Set([url.url]);
  for (const path of paths) out.add(`${url.scheme}://${url.host}${path}${query}`);
  return [...out];
}

async function serveCacheable(er: EdgeRequest, key: string): Promise<Response> {
  const name = storageName(key);
  let found: Lookup = { entry: null, varyMiss: false };
  try {
    found = await er.store.lookup(name, key, er.now);
  } catch (error) {
    // A failing tier is bypassed and reported, never fatal: the shield can still answer.
    console.warn(`edge: cache lookup failed: ${String(error)}`);
  }
  const entry = found.entry;
  const decision = decide(
    { method: er.client.method, headers: er.policyHeaders },
    entry?.meta,
    er.now,
    er.rt.policy,
  );
  const action = cacheAction(decision, er.name, entry?.meta);
  switch (action.kind) {
    case "hit":
      if (action.refresh) revalidateInBackground(er, name, key, entry!.meta);
      return fromStored(er, entry!.meta, entry!.body, action.member, er.now);
    case "revalidate":
      return revalidateNow(er, name, key, entry!, action);
    case "unsatisfiable":
      discard(entry?.body ?? null);
      return new EdgeError(
        "only_if_cached",
        "only-if-cached: no stored response can answer this request",
      ).toResponse({ cache: er.name });
    case "miss":
      discard(entry?.body ?? null);
      // The key has stored variants, none for this request's values (RFC 9211 §2.2).
      return fetchAndStore(
        er,
        name,
        key,
        found.varyMiss && action.fwd === "uri-miss" ? "vary-miss" : action.fwd,
      );
  }
}
