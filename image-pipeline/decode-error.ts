/** libvips' error messages turned into the pipeline's typed errors. */
import { ImageError } from "../core/variant/index.ts";

/** A libvips failure while reading the source: the image's fault, a 4xx. */
export function decodeError(err: unknown): ImageError {
  const message = err instanceof Error ? err.message : String(err);
  if (/timeout/i.test(message)) {
    return new ImageError("transform_timeout", "the transform took too long", { cause: err });
  }
  if (/pixel limit/i.test(message)) {
    return new ImageError("too_many_pixels", "the source has too many pixels", { cause: err });
  }
  if (/unsupported image format/i.test(message)) {
    return new ImageError("unsupported_image", "the source is not an image", { cause: err });
  }
  return new ImageError(
    "corrupt_image",
    `the source image could not be decoded: ${message.split("\n")[0]?.slice(0, 200)}`,
    { cause: err },
  );
}
