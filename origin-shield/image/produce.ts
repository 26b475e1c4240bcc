/**
 * Making one image variant, as the fetcher of its cache key's fill (collapse/fill.ts
 * calls it where it would call an origin): fetch the source through this shield's own
 * cache (so the original is collapsed, cached and revalidated like any object), transform
 * it in the bounded queue, and answer with a response that the fill stores like an
 * origin's.
 *
 * The variant's caching headers are its source's (Cache-Control, CDN-Cache-Control,
 * Expires, Date, Age, Last-Modified, tags), so caches downstream keep it as long as the
 * source, and purging the source by tag purges its variants. Here the variant is stored
 * exactly when its source is and takes the source entry's lifetimes
 * (FetchedResponse.lifetimes in collapse/fill.ts), whatever rules or purges shaped them. Its ETag is strong and
 * derived from the source's bytes, the resolved options and the encoder settings, so a
 * revalidation whose source has not changed is answered 304 without running sharp again
 * (imgproxy does the same).
 */
import { createHash } from "node:crypto";
import { parseETag, parseETagList, weakMatch } from "../../core/http/etag.ts";
import type { HeaderPairs } from "../../core/policy/index.ts";
import { ImageError, mediaTypeOf } from "../../core/variant/index.ts";
import type { ImagePipeline, TransformResult } from "../../image-pipeline/index.ts";
import type { FetchedResponse, Fetcher } from "../collapse/fill.ts";
import type { ShieldMetrics } from "../observe/metrics.ts";
import { OriginError } from "../origin/origin-error.ts";
import type { ShieldResponse } from "../respond.ts";
import type { Lifetimes, RoutedRequest } from "../types.ts";
import type { ImageJob } from "./image-job.ts";
import { readSource, rememberHeader, type SourceBody } from "./source-body.ts";

/**
 * How the route gets a variant's source: a GET for `job.sourceTarget` on the variant
 * request's host, through this node's cache, never answered from a stale entry.
 */
export type SourceFetcher = (
  routed: RoutedRequest,
  job: ImageJob,
  accept: string,
) => Promise<ShieldResponse> | ShieldResponse;

export interface ProduceDeps {
  readonly pipeline: ImagePipeline;
  /** The largest source image read, bytes. */
  readonly maxInputBytes: number;
  /** Where a variant that cannot be made redirects (images.fallback), if anywhere. */
  readonly fallback?: string | undefined;
  readonly metrics: ShieldMetrics;
  /** The targeted Cache-Control fields the config reads (CDN-Cache-Control, …). */
  readonly targetedCacheControl: readonly string[];
  readonly fetchSource: SourceFetcher;
}

/**
 * Ask for the original the way an old browser would: an origin that negotiates formats
 * itself then answers with its plain original, and every variant of one source shares
 * one cached copy of it.
 */
const SOURCE_ACCEPT = "image/*,*/*;q=0.8";

/** Source headers that make a variant's freshness and identity for purge. */
const COPIED: ReadonlySet<string> = new Set([
  "cache-control",
  "expires",
  "date",
  "age",
  "last-modified",
  "surrogate-key",
  "cache-tag",
  "surrogate-control",
  "access-control-allow-origin",
  "timing-allow-origin",
]);

const NO_STORE: HeaderPairs = [["cache-control", "no-store"]];

/** Digest of each source body, kept only while the body (a stored entry's) is alive. */
const digests = new WeakMap<Buffer, string>();

/** The fetcher of a variant's fill. */
export function variantFetcher(deps: ProduceDeps, routed: RoutedRequest, job: ImageJob): Fetcher {
  return (intent) => produceVariant(deps, routed, job, intent.conditional);
}

async function produceVariant(
  deps: ProduceDeps,
  routed: RoutedRequest,
  job: ImageJob,
  conditional: HeaderPairs,
): Promise<FetchedResponse> {
  const source = await deps.fetchSource(routed, job, SOURCE_ACCEPT);
  // The source's origin failed: the variant's fill fails the same way, so nothing is
  // stored and a stale variant may still be served (stale-if-error, whose Cache-Status
  // then says so). A source served stale because its origin failed counts as failed
  // when a stale variant exists: refreshing the variant from it would claim a
  // revalidation that never happened.
  const revalidating = conditional.some(([name]) => name === "if-none-match");
  if (source.outcome === "error" || (source.outcome === "stale_error" && revalidating)) {
    closeBody(source);
    throw new OriginError(source.status === 504 ? "timeout" : "connect", "source fetch failed");
  }
  const derived = cachingHeaders(deps, source.headers);
  // The variant is stored exactly when, and for as long as, its source is: the source's
  // rules (a TTL set or floor, by path or by its content type) and a soft purge shaped
  // those lifetimes, and a source the shield would not store (Set-Cookie, Vary: *, too
  // short-lived) must not come back shared through its variants.
  const lifetime = source.lifetime ?? null;
  if (source.status !== 200) {
    closeBody(source);
    // A missing source stays missing as long as the origin says its 404 may be cached.
    const lasting = source.status === 404 || source.status === 410;
    // A client error is the client's to see; anything else (5xx, and a redirect or other
    // 2xx, which no variant can be made from and which are not followed) is a bad gateway.
    const status = source.status >= 400 && source.status < 500 ? source.status : 502;
    const redirect = source.status >= 300 && source.status < 400 ? " (not followed)" : "";
    const e = new ImageError(
      "source_error",
      `the source image answered ${source.status}${redirect}`,
      { status },
    );
    return failure(deps, job, e, lasting ? derived : NO_STORE, lifetime);
  }

  let read: SourceBody;
  try {
    read = await readSource(source, deps.maxInputBytes, deps.pipeline);
  } catch (err) {
    if (err instanceof ImageError) return failure(deps, job, err, derived, lifetime);
    throw err;
  }
  const input = read.body;
  // A revalidation may be answered from the source's digest alone, without sharp.
  if (revalidating) {
    const etag = variantEtag(deps, input, job.id);
    if (matches(conditional, etag)) {
      deps.metrics.imageTransforms.labels("not_modified").inc();
      return answer(304, [...derived, ["etag", etag]], null, lifetime);
    }
  }

  let out: TransformResult;
  const t0 = performance.now();
  const made = deps.pipeline.run(input, job.spec, read.header);
  const tagged = etagSoon(deps, input, job.id);
  try {
    out = await made;
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    // Busy and timeout say nothing about the source: never stored, try again later.
    const transient = err.code === "transform_busy" || err.code === "transform_timeout";
    const caching: HeaderPairs = transient ? [...NO_STORE, ["retry-after", "1"]] : derived;
    return failure(deps, job, err, caching, lifetime);
  }
  deps.metrics.imageSeconds.labels(out.format).observe((performance.now() - t0) / 1000);
  deps.metrics.imageTransforms.labels("ok").inc();
  rememberHeader(input, out.source);
  const headers: HeaderPairs = [
    ["content-type", mediaTypeOf(out.format)],
    ["content-length", String(out.data.length)],
    ["etag", await tagged],
    ["x-content-type-options", "nosniff"],
    ...derived,
  ];
  return answer(200, headers, out.data, lifetime);
}

export function cachingHeaders(deps: ProduceDeps, flat: readonly string[]): HeaderPairs {
  const targeted = deps.targetedCacheControl;
  const out: HeaderPairs = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string;
    if (COPIED.has(name) || targeted.includes(name)) out.push([name, flat[i + 1] as string]);
  }
  return out;
}

export function variantEtag(deps: ProduceDeps, input: Buffer, id: string): string {
  let digest = digests.get(input);
  if (digest === undefined) {
    digest = createHash("sha256").update(input).digest("base64url");
    digests.set(input, digest);
  }
  const tag = createHash("sha256")
    .update(`${digest}\n${id}\n${deps.pipeline.fingerprint}`)
    .digest("base64url")
    .slice(0, 32);
  return `"${tag}"`;
}

/**
 * The variant's ETag, worked out on the event loop's next turn: by then the transform
 * has been handed to libuv's pool (the queue starts it from a microtask), so the source
 * is hashed while sharp's threads work rather than before they start.
 */
export function etagSoon(deps: ProduceDeps, input: Buffer, id: string): Promise<string> {
  return new Promise((resolve) => setImmediate(() => resolve(variantEtag(deps, input, id))));
}

/** Whether a revalidation's If-None-Match names this ETag (RFC 9110 §13.1.2). */
export function matches(conditional: HeaderPairs, etag: string): boolean {
  const ours = parseETag(etag);
  if (ours === null) return false;
  for (const [name, value] of conditional) {
    if (name !== "if-none-match") continue;
    const listed = parseETagList(value);
    if (listed === "*" || listed.some((one) => weakMatch(one, ours))) return true;
  }
  return false;
}

function failure(
  deps: ProduceDeps,
  job: ImageJob,
  e: ImageError,
  caching: HeaderPairs,
  lifetime: Lifetimes | null,
): FetchedResponse {
  deps.metrics.imageTransforms.labels(e.code).inc();
  // onerror=redirect sends the client to the source itself, images.fallback to a
  // placeholder (RFC 9110 §15.4.3, a relative Location on this host); the redirect is
  // never stored as the variant.
  const location = job.spec.onError === "redirect" ? job.sourceTarget : deps.fallback;
  if (location !== undefined) {
    const headers: HeaderPairs = [
      ["location", location],
      ["cache-control", "no-store"],
      ["content-length", "0"],
    ];
    return answer(302, headers, null, null);
  }
  const body = Buffer.from(`${JSON.stringify(e)}\n`);
  return answer(
    e.status,
    [
      ["content-type", "application/json; charset=utf-8"],
      ["content-length", String(body.length)],
      ...caching,
    ],
    body,
    lifetime,
  );
}

export function answer(
  status: number,
  headers: HeaderPairs,
  body: Buffer | null,
  lifetimes: Lifetimes | null,
): FetchedResponse {
  return { status, headers, body: once(body), dispose() {}, lifetimes };
}

async function* once(body: Buffer | null): AsyncGenerator<Buffer> {
  if (body !== null) yield body;
}

export function closeBody(response: ShieldResponse): void {
  if (response.body !== null && !Buffer.isBuffer(response.body)) response.body.close();
}
