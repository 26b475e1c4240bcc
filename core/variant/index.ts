export {
  ADVERTISED_HINTS,
  type AutoSize,
  autoDprChoices,
  autoWidthChoices,
  type ClientHints,
  clientHintsAdvertisement,
  type HintAdvertisement,
  type HintFields,
  NO_CLIENT_HINTS,
  readClientHints,
  resolveAutoSize,
  usesClientHints,
} from "./client-hints.ts";
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
  checkSignature,
  type SignatureCheck,
  signatureRefusal,
  signedForms,
  signedMessage,
  signTransform,
} from "./signature.ts";
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
