/**
 * Automatic conversion of plain image paths (images.convert "auto", as Cloudflare's
 * Polish does it): a GET for a JPEG, PNG or GIF under images.paths whose client
 * negotiates AVIF or WebP becomes, inside the shield, a transform with only its format
 * set. It is keyed, collapsed, stored and purged as a transform's variant is
 * (image/route.ts): under the variant's own URL, made from the source by
 * convert-fill.ts, with the source as what it derives from, so that purging the source
 * purges it. Every answer says `Vary: Accept`.
 *
 * The variant's id is the transform's for that format with ",convert" after it: no
 * transform URL resolves to it (an explicit format=avif must give AVIF, never the
 * original), and its path cannot be asked for from outside (a request under the transform
 * prefix goes to the transform route, where "w=-" is not an option).
 *
 * The format is negotiated here as the edge negotiates it (core/variant negotiateFormat),
 * so a client that talks to the shield directly gets the same; behind the edge the
 * request names one format only.
 */
import type { ImagesConfig } from "../../core/config/index.ts";
import { NO_CREDENTIALS } from "../../core/policy/index.ts";
import {
  type ImageFormat,
  isNegotiableImagePath,
  negotiateFormat,
  originalFormatFromPath,
  resolveTransform,
  transformVariantId,
  variantPath,
} from "../../core/variant/index.ts";
import { serveFromCache } from "../cache/cache-path.ts";
import type { ShieldResponse } from "../respond.ts";
import type { RoutedRequest } from "../types.ts";
import { conversionFetcher } from "./convert-fill.ts";
import type { ImageJob, ResolvedImage } from "./image-job.ts";
import type { ImageRouteDeps } from "./route.ts";

/** Longest URL the memo of resolved conversions keeps, characters (as the transform route). */
const MEMO_MAX_KEY = 2_048;
/** Distinct Accept values remembered per original format before the memo starts over. */
const MAX_ACCEPTS = 256;
/** Longest Accept value remembered; longer ones are negotiated each time. */
const MAX_ACCEPT_LENGTH = 512;

/** Negotiated formats by Accept, per original format and images config. */
const negotiated = new WeakMap<ImagesConfig, Map<ImageFormat, Map<string, ImageFormat>>>();

/**
 * The variant a GET or HEAD of a plain path converts to, or null when the request is
 * served as it is: conversion off, not an image path of a convertible format, a client
 * that negotiates the original, or a request with credentials (the source is fetched
 * without them, so what it would convert may not be what this client may see).
 */
export function conversionFor(deps: ImageRouteDeps, routed: RoutedRequest): ResolvedImage | null {
  const images = deps.images;
  if (images.convert === "off") return null;
  if (routed.method !== "GET" && routed.method !== "HEAD") return null;
  const url = routed.url;
  // The extension first: it is the cheapest test, and most paths fail it.
  const original = originalFormatFromPath(url.path);
  if (original !== "jpeg" && original !== "png" && original !== "gif") return null;
  if (routed.reader.get("authorization") !== null) return null;
  const format = formatFor(images, routed.reader.get("accept") ?? "", original);
  if (format !== "avif" && format !== "webp") return null;

  // Only a path that passed the images.paths test below is remembered, so a hit skips
  // the test (a regular expression per glob).
  const memoKey = `${url.url}\n${format}`;
  const known = deps.resolved.get(memoKey);
  if (known !== undefined) return known;
  if (!isNegotiableImagePath(url.path, images)) return null;
  const spec = resolveTransform(new Map([["format", format]]), images);
  const id = `${transformVariantId(spec)},convert`;
  const query = url.query === "" ? "" : `?${url.query}`;
  const job: ImageJob = {
    spec,
    id,
    sourceTarget: `${url.path}${query}`,
    sourceUrl: url.url,
    sourcePath: url.path,
    negotiated: true,
  };
  const path = variantPath(images.transformPrefix, id, url.path);
  const resolved: ResolvedImage = {
    job,
    variant: { ...url, path, url: `${url.scheme}://${url.host}${path}${query}` },
  };
  if (memoKey.length <= MEMO_MAX_KEY) deps.resolved.set(memoKey, resolved);
  return resolved;
}

/** Serve a conversion through the cache: a hit, or one fill that makes it. */
export function serveConversion(
  deps: ImageRouteDeps,
  routed: RoutedRequest,
  resolved: ResolvedImage,
): ShieldResponse | Promise<ShieldResponse> {
  const job = resolved.job;
  // Made from a source fetched without the client's cookies: they have no say in whom
  // it may be shared with (as for a transform).
  const res = serveFromCache(deps.cache, {
    method: routed.method,
    headers: routed.reader,
    url: resolved.variant,
    credentials: NO_CREDENTIALS,
    derivedFrom: job.sourceUrl,
    fetch: conversionFetcher(deps, routed, job),
  });
  // RFC 9110 §12.5.5: chosen by Accept, whatever the outcome. Each answer's header list
  // is its own, so the field is appended in place.
  const vary = (answer: ShieldResponse): ShieldResponse => {
    answer.headers.push("vary", "accept");
    return answer;
  };
  return res instanceof Promise ? res.then(vary) : vary(res);
}

function formatFor(images: ImagesConfig, accept: string, original: ImageFormat): ImageFormat {
  if (accept.length > MAX_ACCEPT_LENGTH) return negotiateFormat(accept, original, images);
  let byOriginal = negotiated.get(images);
  if (byOriginal === undefined) {
    byOriginal = new Map();
    negotiated.set(images, byOriginal);
  }
  // One map per original format, keyed by the Accept value as it came: a hit looks up
  // the request's own string rather than a new one built from it.
  let memo = byOriginal.get(original);
  if (memo === undefined) {
    memo = new Map();
    byOriginal.set(original, memo);
  }
  let format = memo.get(accept);
  if (format === undefined) {
    format = negotiateFormat(accept, original, images);
    // Browsers send a handful of values; a client inventing new ones only restarts it.
    if (memo.size >= MAX_ACCEPTS) memo.clear();
    memo.set(accept, format);
  }
  return format;
}
