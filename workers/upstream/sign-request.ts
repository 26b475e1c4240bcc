/**
 * The edge's signature on each request it sends to a shield node (core/auth/
 * edge-signature.ts), with the EDGE_SHIELD_SECRET Worker secret. A shield configured with
 * the same secret (shield.edgeAuth or SHIELD_EDGE_SECRET) refuses requests without it;
 * one without a secret ignores the field, so the Worker can start signing before any
 * shield starts checking.
 */
import {
  EDGE_SIGNATURE_FIELD,
  type EdgeKey,
  edgeSigningKey,
  signEdgeRequest,
} from "../../core/auth/edge-signature.ts";

/** Shortest secret accepted, as the shield's schema asks (shield.edgeAuth.secret). */
export const MIN_SECRET_LENGTH = 32;

/**
 * The key, imported once per secret. The key itself is kept, not the import's promise:
 * in workerd a pending promise belongs to the request that started it.
 */
let imported: { readonly secret: string; readonly key: EdgeKey } | null = null;

async function keyFor(secret: string): Promise<EdgeKey> {
  if (imported !== null && imported.secret === secret) return imported.key;
  const key = await edgeSigningKey(secret);
  imported = { secret, key };
  return key;
}

/**
 * The header fields to send to `url`: `headers` with a fresh signature over the method,
 * the target as the URL will be sent (path and query, as fetch serialises them), the
 * X-Forwarded-Host among `headers`, and the current time. A copy: each attempt is
 * signed for its own node (a node's base URL may carry a path), and what the caller
 * keeps (the stored entry's request fields) has no signature in it.
 */
export async function signedHeaders(
  secret: string,
  method: string,
  url: string,
  headers: Headers,
): Promise<Headers> {
  const parsed = new URL(url);
  const request = {
    method,
    target: parsed.pathname + parsed.search,
    forwardedHost: headers.get("x-forwarded-host"),
  };
  // The wall clock, not the flow's (tests move that one): the shield compares with its own.
  const time = Math.floor(Date.now() / 1000);
  const signed = new Headers(headers);
  signed.set(EDGE_SIGNATURE_FIELD, await signEdgeRequest(await keyFor(secret), request, time));
  return signed;
}
