/**
 * Signed transform URLs. With a secret configured, only URLs your own backend signed are
 * transformed, so nobody else can make the shield produce (and cache) arbitrary variants.
 *
 * The signature is HMAC-SHA256 over the canonical transform (core/variant: full option
 * names, sorted, numbers normalised, `sig` left out) and the query string, base64url,
 * carried as the option `sig=…`. Signing the canonical form lets the edge rewrite a URL
 * into that form without breaking its signature; `npm run sign-url` prints a signed URL.
 *
 * The edge replaces `format=auto` by the format it negotiated, so a URL signed with
 * format=auto is also accepted with each format auto may become for its source (the
 * configured negotiation formats, the original's, or none), and with no other.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { ImagesConfig } from "../core/config/index.ts";
import {
  autoFormatChoices,
  formatTransformPath,
  type TransformUrl,
} from "../core/variant/index.ts";

export function signTransform(
  prefix: string,
  transform: TransformUrl,
  query: string,
  secret: string,
): string {
  const options = new Map(transform.options);
  options.delete("sig");
  const message = formatTransformPath(prefix, { options, source: transform.source });
  return createHmac("sha256", secret)
    .update(query === "" ? message : `${message}?${query}`)
    .digest("base64url");
}

export type SignatureCheck = "ok" | "missing" | "bad";

export function checkSignature(
  transform: TransformUrl,
  query: string,
  images: ImagesConfig,
  secret: string,
): SignatureCheck {
  const prefix = images.transformPrefix;
  const given = transform.options.get("sig");
  if (given === undefined) return "missing";
  const candidates = [transform];
  const format = transform.options.get("format");
  if (format !== "auto") {
    const options = new Map(transform.options);
    options.set("format", "auto");
    const auto = { options: sortByName(options), source: transform.source };
    const choices = autoFormatChoices(auto, images).map((t) => t.options.get("format"));
    if (choices.includes(format)) candidates.push(auto);
  }
  const a = Buffer.from(given);
  for (const t of candidates) {
    const b = Buffer.from(signTransform(prefix, t, query, secret));
    if (a.length === b.length && timingSafeEqual(a, b)) return "ok";
  }
  return "bad";
}

function sortByName(m: Map<string, string>): Map<string, string> {
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
