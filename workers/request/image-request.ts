/**
 * Image negotiation for one request: a negotiated image path gets AVIF, WebP or the
 * original by the client's Accept (core/variant/image-variant.ts negotiateFormat), and a
 * transform URL its resolved options (core/variant/transform-spec.ts), its `auto` values
 * replaced by what the Accept and the Client Hints give (core/variant), and, when
 * signing is configured, its signature checked as the shield checks it.
 *
 * The Workers Cache API ignores Vary, so the chosen format goes into the key, and the
 * request forwarded to the shield names only that format in Accept: the shield and the
 * origin see at most three Accept values per image, and an AVIF entry can never be
 * served to a client that did not ask for AVIF. Likewise width=auto and dpr=auto become
 * concrete values in the forwarded URL and the key, and the response varies on the hints.
 */
import type { ImagesConfig } from "../../core/config/index.ts";
import {
  type ClientHints,
  checkSignature,
  formatTransformPath,
  ImageError,
  isNegotiableImagePath,
  isTransformPath,
  mediaTypeOf,
  NO_CLIENT_HINTS,
  negotiateFormat,
  originalFormatFromPath,
  parseTransformPath,
  resolveAutoFormat,
  resolveAutoSize,
  resolveTransform,
  signatureRefusal,
  transformVariantId,
  variantId,
  variantPath,
} from "../../core/variant/index.ts";
import type { EdgeErrorCode } from "../errors.ts";

export type NegotiatedImage =
  /** Not an image the edge negotiates. */
  | { readonly kind: "none" }
  /**
   * A negotiated image path, or a transform URL: `path` is the path to forward (a
   * transform's canonical one), `keyPath` and `variant` enter the key, `accept` replaces
   * the client's Accept, `varyAccept` says the response depends on Accept, and
   * `varyHints` names the Client Hints it depends on (width=auto, dpr=auto).
   * `purgePaths` are the other paths on this host (with the request's query) whose purge
   * must reach the stored variant, as at the shield: a transform's variant as the shield
   * names it (any spelling of its options) and the source image it is made from.
   */
  | {
      readonly kind: "image";
      readonly path: string;
      readonly keyPath: string;
      readonly variant: string | null;
      readonly accept: string | undefined;
      readonly varyAccept: boolean;
      readonly varyHints: readonly string[];
      readonly purgePaths: readonly string[];
    }
  | InvalidImage;

/** A transform URL refused before anything is looked up or fetched. */
export interface InvalidImage {
  readonly kind: "invalid";
  readonly code: EdgeErrorCode;
  readonly option: string | undefined;
  readonly message: string;
}

const NONE: NegotiatedImage = { kind: "none" };
const NO_FIELDS: readonly string[] = [];

/**
 * `hints` are the request's Client Hints (core readClientHints), read by the caller for
 * transform URLs only; without them width=auto means no resize and dpr=auto means 1.
 */
export function negotiateImageVariant(
  path: string,
  accept: string | null,
  images: ImagesConfig,
  hints: ClientHints = NO_CLIENT_HINTS,
): NegotiatedImage {
  if (isTransformPath(path, images.transformPrefix)) {
    const parsed = parseTransformPath(path, images.transformPrefix);
    if (!parsed.ok) {
      return { kind: "invalid", code: parsed.code, option: parsed.option, message: parsed.message };
    }
    const formatted = resolveAutoFormat(parsed.transform, accept, images);
    const negotiated = formatted.negotiated;
    const { transform, vary } = resolveAutoSize(formatted.transform, hints, images);
    let id: string;
    try {
      id = transformVariantId(resolveTransform(transform.options, images));
    } catch (error) {
      if (!(error instanceof ImageError)) throw error;
      return {
        kind: "invalid",
        code: edgeCode(error),
        option: error.option,
        message: error.message,
      };
    }
    const sig = transform.options.get("sig");
    const format = transform.options.get("format");
    return {
      kind: "image",
      path: formatTransformPath(images.transformPrefix, transform),
      // The resolved options name the concrete format, so they are the variant already.
      keyPath: variantPath(
        images.transformPrefix,
        sig === undefined ? id : `${id},sig=${sig}`,
        transform.source,
      ),
      variant: null,
      accept: negotiated && format !== undefined ? acceptFor(format) : undefined,
      varyAccept: negotiated,
      varyHints: vary,
      // The shield's purge of a transform URL names the variant without the signature
      // (origin-shield/image/route.ts variantUrlsFor); purging the source takes its variants.
      purgePaths: [variantPath(images.transformPrefix, id, transform.source), transform.source],
    };
  }
  if (!isNegotiableImagePath(path, images)) return NONE;
  const original = originalFormatFromPath(path);
  // A configured glob can match a path without an image extension; without knowing
  // the original there is nothing to negotiate against.
  if (original === null) return NONE;
  const format = negotiateFormat(accept, original, images);
  return {
    kind: "image",
    path,
    keyPath: path,
    variant: variantId({ format }),
    accept: mediaTypeOf(format),
    varyAccept: true,
    varyHints: NO_FIELDS,
    purgePaths: [],
  };
}

/**
 * The signature check of a transform URL, before the edge looks anything up or forwards
 * it: core's checkSignature, the one the shield runs, over the URL as the client sent it
 * (its `auto` values unresolved, as it was signed). Null when there is nothing to refuse:
 * signing is off, the path is no transform URL, or it does not parse (then
 * negotiateImageVariant refuses it for that, as the shield parses before it checks).
 */
export async function refuseUnsigned(
  path: string,
  query: string,
  images: ImagesConfig,
): Promise<InvalidImage | null> {
  const secret = images.signing.secret;
  if (secret === undefined || !isTransformPath(path, images.transformPrefix)) return null;
  const parsed = parseTransformPath(path, images.transformPrefix);
  if (!parsed.ok) return null;
  const check = await checkSignature(parsed.transform, query, images, secret);
  if (check === "ok") return null;
  const error = signatureRefusal(check);
  return { kind: "invalid", code: edgeCode(error), option: error.option, message: error.message };
}

/** Resolution and the signature refuse only a request's URL: each such code has an edge twin. */
function edgeCode(error: ImageError): EdgeErrorCode {
  switch (error.code) {
    case "invalid_option":
    case "unsupported_option":
    case "width_not_allowed":
    case "missing_signature":
    case "bad_signature":
      return error.code;
    default:
      return "invalid_options";
  }
}

function acceptFor(format: string): string | undefined {
  switch (format) {
    case "avif":
    case "webp":
    case "jpeg":
    case "png":
    case "gif":
      return mediaTypeOf(format);
    default:
      return undefined;
  }
}
