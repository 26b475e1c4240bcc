/**
 * Which configured origin serves a request, and the URL to fetch there. This is the only
 * place a fetch target is made, and it is made from a configured origin's base URL plus
 * the request's path and query: no Host header, absolute-form target or path trick can
 * name another host (RFC 9112 §3.2.2: an absolute-form authority only selects among the
 * configured hosts, like Host does).
 */
import type { OriginConfig } from "../core/config/index.ts";
import type { NormalisedUrl } from "../core/key/index.ts";
import { originTarget } from "../core/routing/index.ts";

/**
 * Where on the origin to fetch: its base URL, the normalised path and the query kept for
 * the key (core/routing, as the edge does). The origin comes from core/routing's
 * `routeOrigin`, so only a configured origin is ever named here.
 */
export function forwardUrl(origin: OriginConfig, url: NormalisedUrl): string {
  return originTarget(origin.url, url.path, url.query);
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
