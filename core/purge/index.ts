export {
  cloudflarePrefix,
  coveringPrefixTag,
  edgeEntryTags,
  isCloudflareTag,
  MAX_CACHE_TAG_CHARS,
  MAX_CACHE_TAGS,
  MAX_PREFIX_SEPARATORS,
  MAX_TAG_CHARS,
  PREFIX_TAG_DEPTH,
  prefixPurgeTag,
  urlPurgeTag,
} from "./edge-tags.ts";
