/**
 * Paths the edge answers itself and never sends on, whatever host they arrive for.
 *
 * `/__shield/…` is the shield's admin namespace (health, metrics, purge): for operators
 * on the shield's own network, never for the public, since its answers describe the
 * topology and it is where purge tokens are tried. `/__edge/…` is this Worker's own;
 * its one endpoint, `GET /__edge/health`, is routed before any request reaches the flow,
 * so whatever else lands in it is unknown.
 *
 * The test runs on the normalised path (core/key normaliseUrl: dot segments removed,
 * `%5F` decoded to `_`), case-insensitively, and skips leading empty segments: a
 * server, a framework or a load balancer between the edge and the shield may fold case,
 * merge slashes or decode `%2F`, and `//__shield/health`, `/__SHIELD/health` or
 * `/__shield%2Fhealth` would then reach the admin routes all the same. So a namespace is
 * matched by its name followed by anything but another name character: `/__shielded` is
 * an ordinary path, `/__shield;x` and `/__shield%2F…` are not.
 */

/** The first segment of each reserved namespace, lowercase. */
const RESERVED = ["__shield", "__edge"] as const;

export type ReservedNamespace = (typeof RESERVED)[number];

/** Characters that continue a name (RFC 3986 unreserved): `__shield-docs` is another name. */
const NAME_CHAR = /[A-Za-z0-9._~-]/;

/** The reserved namespace `path` (normalised, starting with "/") falls in, or null. */
export function reservedNamespace(path: string): ReservedNamespace | null {
  let start = 0;
  while (path.charCodeAt(start) === 47) start++; // "/"
  // Only a path starting "/_" needs the closer look: the hot path costs one comparison.
  if (path.charCodeAt(start) !== 95) return null; // "_"
  for (const name of RESERVED) {
    const end = start + name.length;
    if (path.slice(start, end).toLowerCase() !== name) continue;
    if (end === path.length || !NAME_CHAR.test(path.charAt(end))) return name;
  }
  return null;
}
