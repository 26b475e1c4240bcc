/**
 * Bearer tokens for the admin endpoints of both tiers (RFC 6750 §2.1), compared in
 * constant time.
 *
 * Comparing the tokens themselves leaks through timing how long the expected one is
 * (a comparison of unequal lengths returns at once) and how many leading bytes match.
 * Both sides are hashed with SHA-256 first and the two fixed-length digests are compared
 * with no early exit: the time taken then depends on neither token.
 */

/** The token of an `Authorization: Bearer <token>` field; null when there is none. */
export function bearerToken(authorization: string | null | undefined): string | null {
  if (authorization == null) return null;
  const m = /^Bearer[ \t]+([^ \t].*?)[ \t]*$/i.exec(authorization);
  return m?.[1] ?? null;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Whether `given` equals `expected`, in time independent of both. */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
