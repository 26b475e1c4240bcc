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
