import { bearerToken, sameSecret } from "../../core/auth/bearer.ts";

/**
 * Whether a request carries the admin token (`Authorization: Bearer <token>`), compared
 * in constant time. With no token configured (unset or blank) nobody is the admin: an
 * empty secret would let an empty bearer token in.
 */
export async function isAdmin(request: Request, token: string | undefined): Promise<boolean> {
  if (token === undefined || token === "") return false;
  const given = bearerToken(request.headers.get("authorization"));
  return given !== null && (await sameSecret(given, token));
}
