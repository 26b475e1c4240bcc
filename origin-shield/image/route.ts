/**
 * `/img/<options>/<path>`: an image transform request at the shield.
 *
 *   parse (core/variant) → signature (core/variant, the check the edge runs) →
 *   format=auto from Accept, width=auto and dpr=auto from Client Hints → resolve options
 *   (core/variant) → variant bound → the cache, keyed by the resolved options
 *
 * From the key on, a variant is an ordinary cached object (cache/cache-path.ts): hit,
 * stale, revalidate, collapse (identical concurrent requests share one transform) and
 * purge all work as for any response; only its fill differs: produce.ts makes it from a
 * source that the route is handed a way to fetch (`fetchSource`), as the rest of the
 * cache is handed an origin.
 */
import type { LRUCache } from "lru-cache";
import type { ImagesConfig } from "../../core/config/index.ts";
import type { NormalisedUrl } from "../../core/key/index.ts";
import { NO_CREDENTIALS } from "../../core/policy/index.ts";
import type { TransformUrl } from "../../core/variant/index.ts";
import {
  autoFormatChoices,
  type ClientHints,
  checkSignature,
  ImageError,
  NO_CLIENT_HINTS,
  parseTransformPath,
  readClientHints,
  resolveAutoFormat,
  resolveAutoSize,
  resolveTransform,
  signatureRefusal,
  type TransformSpec,
  transformVariantId,
  variantPath,
} from "../../core/variant/index.ts";
import type { CacheDeps } from "../cache/cache-deps.ts";
import { serveFromCache } from "../cache/cache-path.ts";
import { rejection } from "../rejection.ts";
import type { ShieldResponse } from "../respond.ts";
import type { RoutedRequest } from "../types.ts";
import type { ImageJob, ResolvedImage } from "./image-job.ts";
import { type ProduceDeps, variantFetcher } from "./produce.ts";
import type { VariantTracker } from "./variants.ts";

/** What the image route needs: the cache it keys variants in, and how variants are made. */
export interface ImageRouteDeps extends ProduceDeps {
  readonly cache: CacheDeps;
  readonly images: ImagesConfig;
  /** The bound on variants per source image. */
  readonly variants: VariantTracker;
  /** Transform URLs already resolved, by URL, Accept and Client Hints. */
  readonly resolved: LRUCache<string, ResolvedImage>;
}

/** Longest URL-and-Accept the memo keeps, characters. */
const MEMO_MAX_KEY = 2_048;

export function serveImage(
  deps: ImageRouteDeps,
  routed: RoutedRequest,
): ShieldResponse | Promise<ShieldResponse> {
  if (routed.method !== "GET" && routed.method !== "HEAD") {
    const e = new ImageError("method_not_allowed", "transform URLs answer GET and HEAD only");
    return refuse(deps, e, ["allow", "GET, HEAD"]);
  }
  // A hit should not pay for parsing, signature and resolution again: the answer for a
  // URL is remembered. Only an auto option makes it depend on the request's fields, and
  // an option is auto only as written, by name or alias, with the value "auto": format
  // (f) on the Accept value, width (w) and dpr on the Client Hints. Those fields are
  // read, and are part of the memo's key, only when the path names such an option (a
  // source path that merely contains the text costs a longer key, never a wrong answer).
  // So a hit of any other URL hashes no Accept value, and each browser's does not take an
  // entry of its own.
  const url = routed.url;
  const path = url.path;
  const auto = path.includes("=auto");
  const byAccept = auto && (path.includes("format=auto") || path.includes("f=auto"));
  const byHints =
    auto && (path.includes("width=auto") || path.includes("w=auto") || path.includes("dpr=auto"));
  const accept = byAccept ? (routed.reader.get("accept") ?? "") : "";
  const hints = byHints ? readClientHints(routed.reader) : NO_CLIENT_HINTS;
  const hinted = byHints ? `${hints.width},${hints.viewportWidth},${hints.dpr}` : "";
  const memoKey = auto ? `${url.url}\n${accept}\n${hinted}` : url.url;
  const resolved = deps.resolved.get(memoKey);
  if (resolved !== undefined) return serveResolved(deps, routed, resolved);
  // The signature is checked with WebCrypto (core/variant), which answers asynchronously.
  return resolve(deps, url, accept, hints).then((out) => {
    if ("status" in out) return out;
    // A URL far longer than a site's own is resolved each time instead: a burst of them
    // would otherwise push the ordinary URLs out of the (byte-bounded) memo.
    if (memoKey.length <= MEMO_MAX_KEY) deps.resolved.set(memoKey, out);
    return serveResolved(deps, routed, out);
  });
}

function serveResolved(
  deps: ImageRouteDeps,
  routed: RoutedRequest,
  resolved: ResolvedImage,
): ShieldResponse | Promise<ShieldResponse> {
  const job = resolved.job;
  // A variant is made here, never passed to an origin: it is made from a source fetched
  // without the client's credentials, so they have no say in whom it may be shared with.
  const res = serveFromCache(deps.cache, {
    method: routed.method,
    headers: routed.reader,
    url: resolved.variant,
    credentials: NO_CREDENTIALS,
    derivedFrom: job.sourceUrl,
    fetch: variantFetcher(deps, routed, job),
  });
  return job.vary === undefined ? res : withVary(res, job.vary);
}

async function resolve(
  deps: ImageRouteDeps,
  url: NormalisedUrl,
  accept: string,
  hints: ClientHints,
): Promise<ResolvedImage | ShieldResponse> {
  const images = deps.images;
  const prefix = images.transformPrefix;
  const parsed = parseTransformPath(url.path, prefix);
  if (!parsed.ok) {
    return refuse(deps, new ImageError(parsed.code, parsed.message, { option: parsed.option }));
  }
  const secret = images.signing.secret;
  if (secret !== undefined) {
    const check = await checkSignature(parsed.transform, url.query, images, secret);
    if (check !== "ok") return refuse(deps, signatureRefusal(check));
  }
  const formatted = resolveAutoFormat(parsed.transform, accept, images);
  const negotiated = formatted.negotiated;
  const { transform, vary } = resolveAutoSize(formatted.transform, hints, images);
  let spec: TransformSpec;
  try {
    spec = resolveTransform(transform.options, images);
  } catch (err) {
    if (err instanceof ImageError) return refuse(deps, err);
    throw err;
  }
  const id = transformVariantId(spec);
  const job = imageJob(url, transform, spec, id, negotiated, vary);
  if (!deps.variants.admit(job.sourceUrl, id)) {
    return refuse(
      deps,
      new ImageError(
        "too_many_variants",
        `this image already has ${images.limits.maxVariantsPerSource} variants; use the sizes and options the site already uses`,
      ),
    );
  }
  // The variant's own URL: what the key and the store's index hold. Every URL that
  // resolves to these options names it.
  const path = variantPath(prefix, id, transform.source);
  return { job, variant: { ...url, path, url: storedUrl(url, path) } };
}

/**
 * The stored URLs a transform URL names, for purge: the variant its options resolve to
 * (any spelling of them), and for format=auto each format it may be negotiated to. A URL
 * that is not a valid transform URL names only itself. No signature is asked for: purge
 * is authenticated on its own.
 */
export function variantUrlsFor(images: ImagesConfig, url: NormalisedUrl): string[] {
  const parsed = parseTransformPath(url.path, images.transformPrefix);
  if (!parsed.ok) return [url.url];
  const out = new Set<string>([url.url]);
  for (const transform of autoFormatChoices(parsed.transform, images)) {
    try {
      const id = transformVariantId(resolveTransform(transform.options, images));
      out.add(storedUrl(url, variantPath(images.transformPrefix, id, transform.source)));
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
    }
  }
  return [...out];
}

function imageJob(
  url: NormalisedUrl,
  transform: TransformUrl,
  spec: TransformSpec,
  id: string,
  negotiated: boolean,
  varyHints: readonly string[],
): ImageJob {
  const source = transform.source;
  const vary = negotiated ? ["accept", ...varyHints] : varyHints;
  return {
    spec,
    id,
    sourceTarget: `${source}${query(url)}`,
    sourceUrl: storedUrl(url, source),
    sourcePath: source,
    negotiated,
    varyHints,
    vary: vary.length === 0 ? undefined : vary.join(", "),
  };
}

function query(url: NormalisedUrl): string {
  return url.query === "" ? "" : `?${url.query}`;
}

/** The normalised URL of `path` on this request's host: what the store indexes by. */
function storedUrl(url: NormalisedUrl, path: string): string {
  return `${url.scheme}://${url.host}${path}${query(url)}`;
}

/**
 * RFC 9110 §12.5.5: the response was chosen by these request fields (Accept for
 * format=auto; the Client Hints for width=auto and dpr=auto, RFC 8942 §2.2).
 */
function withVary(
  res: ShieldResponse | Promise<ShieldResponse>,
  value: string,
): ShieldResponse | Promise<ShieldResponse> {
  // Every answer's header list is its own (copied from the stored one, or built for this
  // response), so the field is appended in place.
  const add = (answer: ShieldResponse): ShieldResponse => {
    answer.headers.push("vary", value);
    return answer;
  };
  return res instanceof Promise ? res.then(add) : add(res);
}

function refuse(deps: ImageRouteDeps, e: ImageError, extra: string[] = []): ShieldResponse {
  const error = { status: e.status, code: e.code, message: e.message, option: e.option };
  return rejection(deps.cache.name, error, extra);
}
