/**
 * RFC 9111 §4.4: after a non-error response to an unsafe method, the stored responses
 * for its target URI (and for Location and Content-Location on the same host) go: from
 * memory at once, and from the disk, the shared Redis tier and the other nodes through
 * `elsewhere` (a purge by URL), so that no node keeps answering with what was changed.
 */
import type { KeySpec } from "../../core/config/index.ts";
import { normaliseUrl } from "../../core/key/index.ts";
import { type HeaderReader, invalidatedUrls } from "../../core/policy/index.ts";
import type { PurgeIndex } from "../store/purge-index.ts";
import type { Tier } from "../store/tier.ts";

export interface InvalidateDeps {
  readonly key: KeySpec;
  readonly tier: Tier;
  readonly index: PurgeIndex;
  /** Purge these normalised URLs from every other tier and node (absent: memory only). */
  readonly elsewhere?: ((urls: readonly string[]) => void) | undefined;
}

export function invalidateAfterUnsafe(
  deps: InvalidateDeps,
  method: string,
  url: string,
  status: number,
  headers: HeaderReader,
): void {
  const urls: string[] = [];
  for (const href of invalidatedUrls(method, url, status, headers)) {
    let normalised: string;
    try {
      normalised = normaliseUrl(href, deps.key).url;
    } catch {
      continue;
    }
    urls.push(normalised);
    for (const key of deps.index.keysForUrl(normalised)) deps.tier.delete(key);
  }
  if (urls.length > 0) deps.elsewhere?.(urls);
}
