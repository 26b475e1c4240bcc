/**
 * Signing transform URLs in Node without awaiting (`npm run sign-url`, tests). The check
 * both tiers run, and the definition of what is signed, is core/variant/signature.ts
 * (WebCrypto, the same code in Node and workerd); this computes the same HMAC-SHA256 over
 * the same message (core signedMessage) with node:crypto.
 */
import { createHmac } from "node:crypto";
import { signedMessage, type TransformUrl } from "../core/variant/index.ts";

/** The `sig` value for a transform URL, as core's signTransform gives it, synchronously. */
export function signTransform(
  prefix: string,
  transform: TransformUrl,
  query: string,
  secret: string,
): string {
  return createHmac("sha256", secret)
    .update(signedMessage(prefix, transform, query))
    .digest("base64url");
}
