/**
 * Errors an image transform request can meet, each with a stable code and status. The
 * edge refuses a URL's options with them before forwarding (workers/request), the shield
 * refuses with them too, and the pipeline (image-pipeline) adds its own. User input gets
 * a 4xx; so does a source image the pipeline will not or cannot decode (corrupt,
 * unsupported, too big): the request is well formed, but no request can make that source
 * transformable, and never is that a 500.
 */

export type ImageErrorCode =
  /** The options segment is not `name=value,…`. */
  | "invalid_options"
  | "unknown_option"
  | "invalid_option"
  /** A Cloudflare option this pipeline does not implement. */
  | "unsupported_option"
  | "width_not_allowed"
  | "too_many_variants"
  | "missing_signature"
  | "bad_signature"
  | "method_not_allowed"
  | "source_too_large"
  | "too_many_pixels"
  | "unsupported_image"
  | "corrupt_image"
  /** The source answered with an error status, relayed. */
  | "source_error"
  | "transform_timeout"
  | "transform_busy";

const STATUS: Readonly<Record<ImageErrorCode, number>> = {
  invalid_options: 400,
  unknown_option: 400,
  invalid_option: 400,
  unsupported_option: 400,
  width_not_allowed: 400,
  too_many_variants: 400,
  missing_signature: 403,
  bad_signature: 403,
  method_not_allowed: 405,
  source_too_large: 413,
  too_many_pixels: 413,
  unsupported_image: 415,
  corrupt_image: 422,
  source_error: 502,
  transform_timeout: 503,
  transform_busy: 503,
};

export class ImageError extends Error {
  readonly code: ImageErrorCode;
  readonly status: number;
  /** The option at fault, when one is. */
  readonly option: string | undefined;

  constructor(
    code: ImageErrorCode,
    message: string,
    details: { option?: string | undefined; status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = "ImageError";
    this.code = code;
    this.status = details.status ?? STATUS[code];
    this.option = details.option;
  }

  /** The JSON body a client gets. */
  toJSON(): { error: ImageErrorCode; option?: string; message: string } {
    return this.option === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, option: this.option, message: this.message };
  }
}
