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
