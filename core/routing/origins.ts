/**
 * Which configured origin serves a request: by host, then by path prefix. It is the only
 * way a request reaches an origin, so no user input can make the CDN fetch a host that
 * is not configured; a host no origin serves gets 421 Misdirected
 * Request (RFC 9110 §15.5.20) without any fetch.
 *
 * Precedence, as nginx picks a server block before a location inside it: an exact host
 * beats a "*.suffix" pattern, a longer suffix beats a shorter one, and "*" (a default
 * origin) serves only hosts no other origin names; among the origins for the most
 * specific host that serve the path, the longest pathPrefix wins. A prefix covers whole
 * segments: "/api" serves "/api" and "/api/x" but not "/apix" (the
 * shield routes with this same code, so the edge never sends a shield what it refuses).
 */
import type { OriginConfig } from "../config/schema.ts";

interface Route {
  readonly origin: OriginConfig;
  readonly prefix: string;
}

export interface OriginRouter {
  /** Exact host → routes, longest prefix first. */
  readonly exact: ReadonlyMap<string, readonly Route[]>;
  /** ".suffix" → routes, longest prefix first; suffixes tried longest first. */
  readonly wildcard: ReadonlyMap<string, readonly Route[]>;
  readonly suffixes: readonly string[];
  /** Routes of origins listing "*", longest prefix first. */
  readonly fallback: readonly Route[];
}

export function compileOrigins(origins: readonly OriginConfig[]): OriginRouter {
  const exact = new Map<string, Route[]>();
  const wildcard = new Map<string, Route[]>();
  const fallback: Route[] = [];
  for (const origin of origins) {
    for (const host of origin.hosts) {
      if (host === "*") {
        fallback.push({ origin, prefix: origin.pathPrefix });
        continue;
      }
      const map = host.startsWith("*.") ? wildcard : exact;
      const name = host.startsWith("*.") ? host.slice(1) : host;
      const routes = map.get(name) ?? [];
      routes.push({ origin, prefix: origin.pathPrefix });
      map.set(name, routes);
    }
  }
  const byPrefix = (a: Route, b: Route) => b.prefix.length - a.prefix.length;
  for (const routes of [...exact.values(), ...wildcard.values(), fallback]) routes.sort(byPrefix);
  const suffixes = [...wildcard.keys()].sort((a, b) => b.length - a.length);
  return { exact, wildcard, suffixes, fallback };
}

/**
 * The hostname of a URL authority, lowercase, without the port: "Shop.Example:8443" →
 * "shop.example", "[::1]:8787" → "[::1]". Configured hosts never carry a port.
 */
export function hostnameOf(authority: string): string {
  const lower = authority.toLowerCase();
  if (lower.startsWith("[")) {
    const end = lower.indexOf("]");
    return end === -1 ? lower : lower.slice(0, end + 1);
  }
  const colon = lower.lastIndexOf(":");
  const name = colon === -1 ? lower : lower.slice(0, colon);
  // A fully qualified name's trailing dot names the same host (RFC 1034 §3.1).
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

function firstByPath(routes: readonly Route[] | undefined, path: string): OriginConfig | null {
  if (routes === undefined) return null;
  for (const r of routes) if (underPrefix(path, r.prefix)) return r.origin;
  return null;
}

/** "/api" serves "/api" and "/api/x" but not "/apix"; "/api/" serves "/api/x". */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith("/") || path.length === prefix.length || path[prefix.length] === "/";
}

/** The origin for a request's authority (host[:port]) and normalised path, or null. */
export function routeOrigin(
  router: OriginRouter,
  authority: string,
  path: string,
): OriginConfig | null {
  const host = hostnameOf(authority);
  const exact = firstByPath(router.exact.get(host), path);
  if (exact !== null) return exact;
  for (const suffix of router.suffixes) {
    // "*.example.com" matches a.example.com and a.b.example.com, never example.com itself.
    if (host.length > suffix.length && host.endsWith(suffix)) {
      const found = firstByPath(router.wildcard.get(suffix), path);
      if (found !== null) return found;
    }
  }
  return firstByPath(router.fallback, path);
}

/**
 * The URL to fetch from an origin for a normalised path and query: the origin's base
 * URL (any path it has is a prefix) followed by the request's path and query.
 */
export function originTarget(base: string, path: string, query: string): string {
  const trimmed = base.endsWith("/") ? base.slice(0, -1) : base;
  return `${trimmed}${path}${query === "" ? "" : `?${query}`}`;
}
