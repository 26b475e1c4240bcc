export { buildCacheKey, type CacheKeyInput, storageName } from "./cache-key.ts";
export { hasAnyCookie, readCookies } from "./cookies.ts";
export { fnv1a32, sha256Hex } from "./hash.ts";
export { type NormalisedUrl, normaliseQuery, normaliseUrl } from "./normalise-url.ts";
export { normalisePercentEncoding } from "./percent-encoding.ts";
