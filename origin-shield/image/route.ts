/**
 * `/img/<options>/<path>`: an image transform request at the shield.
 *
 *   parse (core/variant) → signature → format=auto from Accept → resolve options
 *   (image-pipeline) → variant bound → the cache, keyed by the resolved options
 *
 * From the key on, a variant is an ordinary cached object: hit, stale, revalidate,
 * collapse (identical concurrent requests share one transform) and purge all work as for
 * any response; only its fill differs (produce.ts makes it instead of an origin).
 */
import type { NormalisedUrl } from "../../core/key/index.ts";
import type { TransformUrl } from "../../core/variant/index.ts";
import {
  autoFormatChoices,
  parseTransformPath,
  resolveAutoFormat,
} from "../../core/variant/index.ts";
import {
  checkSignature,
  ImageError,
  resolveTransform,
  type TransformSpec,
  variantId,
  variantPath,
} from "../../image-pipeline/index.ts";
import type { ShieldContext } from "../context.ts";
import { cacheable, type Prepared, type ShieldRequest } from "../handler.ts";
import { errorResponse, type ShieldResponse } from "../respond.ts";
import type { ImageJob } from "./produce.ts";

/** A transform URL resolved for one Accept value: what the key and the fill need. */
export interface ResolvedImage {
  readonly job: ImageJob;
  /** The variant's own path and URL (key and store index). */
  readonly path: string;
  readonly url: string;
}

/** Longest URL-and-Accept the memo keeps, characters. */
const MEMO_MAX_KEY = 2_048;

export function imageRequest(
  ctx: ShieldContext,
  req: ShieldRequest,
  p: Prepared,
): ShieldResponse | Promise<ShieldResponse> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    const e = new ImageError("method_not_allowed", "transform URLs answer GET and HEAD only");
    return refuse(ctx, e, ["allow", "GET, HEAD"]);
  }
  // A hit should not pay for parsing, signature and resolution again: the answer for a
  // URL and an Accept value is remembered (browsers send a handful of Accept values).
  const accept = p.reader.get("accept") ?? "";
  const memoKey = `${p.url.scheme}://${p.url.host}${p.url.path}?${p.url.query}\n${accept}`;
  let r = ctx.images.resolved.get(memoKey);
  if (r === undefined) {
    const out = resolve(ctx, p, accept);
    if ("status" in out) return out;
    r = out;
    // A URL far longer than a site's own is resolved each time instead: a burst of them
    // would otherwise push the ordinary URLs out of the (byte-bounded) memo.
    if (memoKey.length <= MEMO_MAX_KEY) ctx.images.resolved.set(memoKey, r);
  }
  const url = { ...p.url, path: r.path, url: r.url };
  const res = cacheable(ctx, req, { ...p, url, image: r.job });
  return r.job.negotiated ? withVaryAccept(res) : res;
}

function resolve(ctx: ShieldContext, p: Prepared, accept: string): ResolvedImage | ShieldResponse {
  const images = ctx.config.images;
  const prefix = images.transformPrefix;
  const parsed = parseTransformPath(p.url.path, prefix);
  if (!parsed.ok) {
    return refuse(ctx, new ImageError(parsed.code, parsed.message, { option: parsed.option }));
  }
  const secret = images.signing.secret;
  if (secret !== undefined) {
    const check = checkSignature(parsed.transform, p.url.query, images, secret);
    if (check !== "ok") {
      return refuse(
        ctx,
        check === "missing"
          ? new ImageError("missing_signature", "this CDN transforms signed URLs only", {
              option: "sig",
            })
          : new ImageError("bad_signature", "the signature does not match this URL", {
              option: "sig",
            }),
      );
    }
  }
  const { transform, negotiated } = resolveAutoFormat(parsed.transform, accept, images);
  let spec: TransformSpec;
  try {
    spec = resolveTransform(transform.options, images);
  } catch (err) {
    if (err instanceof ImageError) return refuse(ctx, err);
    throw err;
  }
  const id = variantId(spec);
  const job = imageJob(p, transform, spec, id, negotiated);
  if (!ctx.images.variants.admit(job.sourceUrl, id)) {
    return refuse(
      ctx,
      new ImageError(
        "too_many_variants",
        `this image already has ${images.limits.maxVariantsPerSource} variants; use the sizes and options the site already uses`,
      ),
    );
  }
  // The variant's own URL: what the key and the store's index hold. Every URL that
  // resolves to these options names it.
  const path = variantPath(prefix, id, transform.source);
  return { job, path, url: storedUrl(p.url, path) };
}

/**
 * The stored URLs a transform URL names, for purge: the variant its options resolve to
 * (any spelling of them), and for format=auto each format it may be negotiated to. A URL
 * that is not a valid transform URL names only itself. No signature is asked for: purge
 * is authenticated on its own.
 */
export function variantUrlsFor(ctx: ShieldContext, url: NormalisedUrl): string[] {
  const images = ctx.config.images;
  const parsed = parseTransformPath(url.path, images.transformPrefix);
  if (!parsed.ok) return [url.url];
  const out = new Set<string>([url.url]);
  for (const transform of autoFormatChoices(parsed.transform, images)) {
    try {
      const id = variantId(resolveTransform(transform.options, images));
      out.add(storedUrl(url, variantPath(images.transformPrefix, id, transform.source)));
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
    }
  }
  return [...out];
}

function imageJob(
  p: Prepared,
  transform: TransformUrl,
  spec: TransformSpec,
  id: string,
  negotiated: boolean,
): ImageJob {
  const source = transform.source;
  return {
    spec,
    id,
    sourceTarget: `${source}${query(p.url)}`,
    sourceUrl: storedUrl(p.url, source),
    sourcePath: source,
    negotiated,
  };
}

function query(url: NormalisedUrl): string {
  return url.query === "" ? "" : `?${url.query}`;
}

/** The normalised URL of `path` on this request's host: what the store indexes by. */
function storedUrl(url: NormalisedUrl, path: string): string {
  return `${url.scheme}://${url.host}${path}${query(url)}`;
}

/** RFC 9110 §12.5.5: the response was chosen by Accept. */
function withVaryAccept(
  r: ShieldResponse | Promise<ShieldResponse>,
): ShieldResponse | Promise<ShieldResponse> {
  const add = (x: ShieldResponse): ShieldResponse => ({
    ...x,
    headers: x.headers.concat("vary", "accept"),
  });
  return r instanceof Promise ? r.then(add) : add(r);
}

function refuse(ctx: ShieldContext, e: ImageError, extra: string[] = []): ShieldResponse {
  return errorResponse(
    { status: e.status, code: e.code, message: e.message, option: e.option },
    "rejected",
    { cache: ctx.name, detail: e.code },
    extra,
  );
}
