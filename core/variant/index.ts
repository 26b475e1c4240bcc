export { parseColour, type Rgba, WHITE } from "./colour.ts";
export { ImageError, type ImageErrorCode } from "./image-error.ts";
export {
  type ImageFormat,
  type ImageVariant,
  isNegotiableImagePath,
  mediaTypeOf,
  negotiateFormat,
  originalFormatFromPath,
  roundDpr,
  roundWidth,
  variantId,
} from "./image-variant.ts";
export {
  type Fit,
  type Gravity,
  type OutputFormat,
  type QualityWord,
  qualityFor,
  resolveTransform,
  type Side,
  type TransformSpec,
  transformVariantId,
  variantPath,
} from "./transform-spec.ts";
export {
  autoFormatChoices,
  formatTransformPath,
  isTransformPath,
  parseTransformPath,
  resolveAutoFormat,
  type TransformParse,
  type TransformParseCode,
  type TransformUrl,
  transformSourcePath,
} from "./transform-url.ts";
