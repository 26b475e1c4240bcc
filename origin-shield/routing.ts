/**
 * Which configured origin serves a request, and the URL to fetch there. This is the only
 * place a fetch target is made, and it is made from a configured origin's base URL plus
 * the request's path and query: no Host header, absolute-form target or path trick can
 * name another host (RFC 9112 §3.2.2: an absolute-form authority only selects among the
 * configured hosts, like Host does).
 */
import type { OriginConfig } from "../core/config/index.ts";
import { compileOrigins, type OriginRouter, routeOrigin } from "../core/routing/origins.ts";

export interface Route {
  readonly origin: OriginConfig;
  /** The origin's base URL without a trailing slash, e.g. "http://10.0.0.5:8080/app". */
  readonly base: string;
}

/** Routing by host and path prefix, with the edge's rules (core/routing/origins.ts). */
export class Router {
  readonly #router: OriginRouter;
  readonly #routes = new Map<OriginConfig, Route>();

  constructor(origins: readonly OriginConfig[]) {
    this.#router = compileOrigins(origins);
    for (const origin of origins) {
      this.#routes.set(origin, { origin, base: origin.url.replace(/\/+$/, "") });
    }
  }

  /** The route for a lowercase hostname (no port) and a path, or null: nobody serves it. */
  route(hostname: string, path: string): Route | null {
    const origin = routeOrigin(this.#router, hostname, path);
    return origin === null ? null : (this.#routes.get(origin) ?? null);
  }
}

/**
 * A Host (or X-Forwarded-Host, or absolute-form authority) value checked and split:
 * lowercase hostname without the port (the routing key) and the authority rebuilt from
 * checked parts (for the cache key). Null when it is not a plausible host[:port].
 */
export function parseAuthority(value: string): { hostname: string; authority: string } | null {
  const h = value.trim().toLowerCase();
  if (h.length === 0 || h.length > 260) return null;
  let hostname: string;
  let port = "";
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return null;
    hostname = h.slice(1, end);
    if (!/^[0-9a-f:.]+$/.test(hostname)) return null;
    const rest = h.slice(end + 1);
    if (rest !== "") {
      if (!/^:\d{1,5}$/.test(rest)) return null;
      port = rest;
    }
    return { hostname: `[${hostname}]`, authority: `[${hostname}]${port}` };
  }
  const colon = h.indexOf(":");
  hostname = colon < 0 ? h : h.slice(0, colon);
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return null;
    port = h.slice(colon);
  }
  if (hostname.endsWith(".")) hostname = hostname.slice(0, -1);
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(hostname)) return null;
  return { hostname, authority: hostname + port };
}
