/**
 * Converting a plain image path's source (images.convert), as the fetcher of its variant
 * key's fill, the way produce.ts makes a transform: the source is fetched through this
 * node's cache, asked for with the negotiated format as its only Accept (an origin that
 * has that format itself answers with it), and re-encoded in the transform queue.
 *
 * What the variant's entry holds, for exactly the source's lifetimes:
 *   - the converted bytes, when they are smaller than the source's;
 *   - otherwise the source's own bytes: the encode came out no smaller, or the source is
 *     not a JPEG, PNG or GIF (source-kind.ts), or it cannot be converted (corrupt, too
 *     many pixels). Storing the outcome is what keeps the encode from running again: the
 *     entry is a hit while fresh, and once stale its revalidation is answered 304 from
 *     the source's digest (the ETag, as for a transform) without decoding anything, as
 *     long as the source is unchanged.
 * Nothing is stored as the variant, and the client still gets what the origin has, when
 * the source's answer is not a 200 (relayed), when it is larger than
 * limits.maxInputBytes (relayed, streamed), or when the queue was full or the encode ran
 * out of time (the original, marked no-store so that a later request tries again).
 */
import type { HeaderPairs } from "../../core/policy/index.ts";
import { ImageError, mediaTypeOf } from "../../core/variant/index.ts";
import type { TransformResult } from "../../image-pipeline/index.ts";
import type { FetchedResponse, Fetcher } from "../collapse/fill.ts";
import { OriginError } from "../origin/origin-error.ts";
import type { ShieldResponse } from "../respond.ts";
import type { RoutedRequest } from "../types.ts";
import type { ImageJob } from "./image-job.ts";
import {
  answer,
  cachingHeaders,
  closeBody,
  etagSoon,
  matches,
  type ProduceDeps,
  variantEtag,
} from "./produce.ts";
import { headerOf, readUpTo, rememberHeader } from "./source-body.ts";
import { isConvertibleSource } from "./source-kind.ts";

/** Fields of the source's own that describe its body, kept when its bytes are served. */
const CONTENT_FIELDS: ReadonlySet<string> = new Set([
  "content-type",
  "content-encoding",
  "content-language",
  "content-disposition",
]);

/** The fetcher of a conversion's fill; `job.spec` names the format and nothing else. */
export function conversionFetcher(
  deps: ProduceDeps,
  routed: RoutedRequest,
  job: ImageJob,
): Fetcher {
  return (intent) => convertSource(deps, routed, job, intent.conditional);
}

async function convertSource(
  deps: ProduceDeps,
  routed: RoutedRequest,
  job: ImageJob,
  conditional: HeaderPairs,
): Promise<FetchedResponse> {
  const format = job.spec.format;
  const source = await deps.fetchSource(routed, job, format === null ? "*/*" : mediaTypeOf(format));
  // As for a transform (produce.ts): a failed origin fails the fill, so that a stale
  // variant may be served, and a source served stale because of that failure does not
  // count as a revalidation of the variant.
  const revalidating = conditional.some(([name]) => name === "if-none-match");
  if (source.outcome === "error" || (source.outcome === "stale_error" && revalidating)) {
    closeBody(source);
    throw new OriginError(source.status === 504 ? "timeout" : "connect", "source fetch failed");
  }
  const caching = cachingHeaders(deps, source.headers);
  const counted = deps.metrics.imageTransforms;
  if (source.status !== 200) {
    // The origin's own 404 page (or whatever it sent), not an error of ours: the client
    // of a plain path asked for the origin's resource.
    counted.labels("source_error").inc();
    return relay(source, caching);
  }
  const read = await readUpTo(source, deps.maxInputBytes, deps.pipeline);
  if (read.kind === "over") {
    counted.labels("source_too_large").inc();
    const headers = [...contentOf(source.headers), ...validatorsOf(source.headers), ...caching];
    return { status: 200, headers, body: read.body, dispose: read.dispose, lifetimes: null };
  }
  const input = read.body;
  const lifetime = source.lifetime ?? null;
  let digested: string | undefined;
  const etagOf = (): string => {
    digested ??= variantEtag(deps, input, job.id);
    return digested;
  };
  if (revalidating && matches(conditional, etagOf())) {
    counted.labels("not_modified").inc();
    return answer(304, [...caching, ["etag", etagOf()]], null, lifetime);
  }
  const kept = (result: string): FetchedResponse => {
    counted.labels(result).inc();
    const headers: HeaderPairs = [
      ...contentOf(source.headers),
      ["content-length", String(input.length)],
      ["etag", etagOf()],
      ["x-content-type-options", "nosniff"],
      ...caching,
    ];
    return answer(200, headers, input, lifetime);
  };
  if (!isConvertibleSource(source.headers, input)) return kept("passed_through");

  let out: TransformResult;
  const started = performance.now();
  const made = deps.pipeline.run(input, job.spec, read.header);
  // The source's digest, kept per body, is worked out while sharp's threads work.
  const tagged = etagSoon(deps, input, job.id);
  try {
    out = await made;
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    if (err.code === "transform_busy" || err.code === "transform_timeout") {
      counted.labels(err.code).inc();
      return unkept(source.headers, input);
    }
    // Corrupt, too many pixels, not really an image: the source stays as it is, and so
    // does the decision, for as long as the source does.
    return kept(err.code);
  }
  deps.metrics.imageSeconds.labels(out.format).observe((performance.now() - started) / 1000);
  digested = await tagged;
  rememberHeader(input, out.source);
  if (out.data.length >= input.length) return kept("kept_original");
  counted.labels("ok").inc();
  const headers: HeaderPairs = [
    ["content-type", mediaTypeOf(out.format)],
    ["content-length", String(out.data.length)],
    ["etag", etagOf()],
    ["x-content-type-options", "nosniff"],
    ...caching,
  ];
  return answer(200, headers, out.data, lifetime);
}

/**
 * The original, when this node had no time or room to convert it: not stored as the
 * variant, and no-store for the caches downstream too, or the edge would keep the
 * original under the converted variant's key for the source's whole lifetime.
 */
function unkept(sourceHeaders: readonly string[], input: Buffer): FetchedResponse {
  const headers: HeaderPairs = [
    ...contentOf(sourceHeaders),
    ["content-length", String(input.length)],
    ["x-content-type-options", "nosniff"],
    ["cache-control", "no-store"],
  ];
  return answer(200, headers, input, null);
}

/** The source's answer as it came (its status, body and caching), never stored as the variant. */
function relay(source: ShieldResponse, caching: HeaderPairs): FetchedResponse {
  const headers: HeaderPairs = [...contentOf(source.headers), ...caching];
  const body = source.body;
  if (Buffer.isBuffer(body)) headers.push(["content-length", String(body.length)]);
  else {
    const length = headerOf(source.headers, "content-length");
    if (length !== undefined && body !== null) headers.push(["content-length", length]);
  }
  if (body === null || Buffer.isBuffer(body)) return answer(source.status, headers, body, null);
  return { status: source.status, headers, body, dispose: () => body.close(), lifetimes: null };
}

function contentOf(flat: readonly string[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (let at = 0; at < flat.length; at += 2) {
    const name = flat[at] as string;
    if (CONTENT_FIELDS.has(name)) out.push([name, flat[at + 1] as string]);
  }
  return out;
}

/** The origin's ETag and length, for a body relayed whole and unchanged. */
function validatorsOf(flat: readonly string[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (const name of ["etag", "content-length"]) {
    const value = headerOf(flat, name);
    if (value !== undefined) out.push([name, value]);
  }
  return out;
}
