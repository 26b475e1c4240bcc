import { buildCacheKey, normaliseUrl, storageName } from "../../core/key/index.ts";
import { invalidatedUrls } from "../../core/policy/index.ts";
import { isNegotiableImagePath, variantId } from "../../core/variant/index.ts";
import type { EdgeRuntime } from "../config/runtime.ts";
import type { EdgeRequest } from "./edge-request.ts";

/**
 * RFC 9111 §4.4: after an unsafe method succeeds, the stored responses for its target
 * URI (and same-origin Location / Content-Location) are invalid. The edge drops the
 * entries those URLs key to for this request's headers, every image variant included;
 * copies in other Cloudflare locations expire or are purged by tag.
 */
export function invalidateAfterUnsafe(er: EdgeRequest, response: Response): void {
  const urls = invalidatedUrls(er.client.method, er.client.url, response.status, response.headers);
  if (urls.length === 0) return;
  const { config } = er.rt;
  const names: string[] = [];
  for (const u of urls) {
    const url = normaliseUrl(u, config.key);
    for (const variant of variantsOf(url.path, config.images)) {
      const key = buildCacheKey({ url, headers: er.policyHeaders }, config.key, variant);
      names.push(storageName(key));
    }
  }
  er.exec.waitUntil(Promise.allSettled(names.map((n) => er.store.delete(n))));
}

/**
 * Every variant id a URL may be stored under: none, or one per image format (negotiated
 * image paths key on the format; which one a client got depends on its Accept).
 */
const VARIANTS: readonly (string | null)[] = [
  null,
  ...(["avif", "webp", "jpeg", "png", "gif"] as const).map((format) => variantId({ format })),
];

function variantsOf(
  path: string,
  images: EdgeRuntime["config"]["images"],
): readonly (string | null)[] {
  return isNegotiableImagePath(path, images) ? VARIANTS : [null];
}
