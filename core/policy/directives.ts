import {
  type CacheControl,
  parseCacheControl,
  parseTargetedCacheControl,
} from "../http/cache-control.ts";
import type { HeaderReader } from "./types.ts";

export interface SelectedDirectives {
  /** The directives this cache obeys. */
  readonly cc: CacheControl;
  /** Name of the targeted field used (RFC 9213), or null when Cache-Control applies. */
  readonly targeted: string | null;
}

/**
 * RFC 9213 §2.2: a cache that honours targeted fields uses the first of its target list
 * with a valid, non-empty value, and then ignores Cache-Control *and Expires*. A field that
 * fails to parse as a Structured Dictionary is ignored as if absent (§2.1).
 */
export function selectDirectives(
  headers: HeaderReader,
  targets: readonly string[],
): SelectedDirectives {
  for (const name of targets) {
    const value = headers.get(name);
    if (value === null) continue;
    const cc = parseTargetedCacheControl(value);
    if (cc !== null) return { cc, targeted: name };
  }
  return { cc: parseCacheControl(headers.get("cache-control")), targeted: null };
}

/**
 * Request directives. RFC 9111 §5.4: with no Cache-Control in the request, `Pragma: no-cache`
 * has the effect of `Cache-Control: no-cache`.
 */
export function requestDirectives(headers: HeaderReader): CacheControl {
  const value = headers.get("cache-control");
  const cc = parseCacheControl(value);
  if (value === null) {
    const pragma = headers.get("pragma");
    if (pragma !== null && /(?:^|,)\s*no-cache\s*(?:,|$)/i.test(pragma)) {
      return { ...cc, noCache: true };
    }
  }
  return cc;
}
