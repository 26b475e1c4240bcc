/**
 * Which configured origin serves a request, and the URL to fetch there. This is the only
 * place a fetch target is made, and it is made from a configured origin's base URL plus
 * the request's path and query: no Host header, absolute-form target or path trick can
 * name another host (RFC 9112 §3.2.2: an absolute-form authority only selects among the
 * configured hosts, like Host does).
 */
import type { OriginConfig } from "../core/config/index.ts";

export interface Route {
  readonly origin: OriginConfig;
  /** The origin's base URL without a trailing slash, e.g. "http://10.0.0.5:8080/app". */
  readonly base: string;
}

interface Candidate {
  readonly route: Route;
  readonly prefix: string;
}

export class Router {
  readonly #exact = new Map<string, Candidate[]>();
  readonly #wildcards: { suffix: string; candidates: Candidate[] }[] = [];
  /** Origins listing "*": any host nobody else names. */
  readonly #fallback: Candidate[] = [];

  constructor(origins: readonly OriginConfig[]) {
    for (const origin of origins) {
      const base = origin.url.replace(/\/+$/, "");
      const candidate: Candidate = { route: { origin, base }, prefix: origin.pathPrefix };
      for (const host of origin.hosts) {
        if (host === "*") {
          this.#fallback.push(candidate);
        } else if (host.startsWith("*.")) {
          const suffix = host.slice(1); // ".example.com"
          let w = this.#wildcards.find((x) => x.suffix === suffix);
          if (w === undefined) {
            w = { suffix, candidates: [] };
            this.#wildcards.push(w);
          }
          w.candidates.push(candidate);
        } else {
          const list = this.#exact.get(host) ?? [];
          list.push(candidate);
          this.#exact.set(host, list);
        }
      }
    }
    // Longest path prefix first, so "/api/" wins over "/" for the same host.
    const byPrefix = (a: Candidate, b: Candidate) => b.prefix.length - a.prefix.length;
    for (const list of this.#exact.values()) list.sort(byPrefix);
    for (const w of this.#wildcards) w.candidates.sort(byPrefix);
    this.#fallback.sort(byPrefix);
    this.#wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** The route for a lowercase hostname (no port) and a path, or null: nobody serves it. */
  route(hostname: string, path: string): Route | null {
    const exact = this.#exact.get(hostname);
    const hit = exact === undefined ? null : pick(exact, path);
    if (hit !== null) return hit;
    for (const w of this.#wildcards) {
      if (hostname.length > w.suffix.length && hostname.endsWith(w.suffix)) {
        const r = pick(w.candidates, path);
        if (r !== null) return r;
      }
    }
    return pick(this.#fallback, path);
  }
}

function pick(candidates: readonly Candidate[], path: string): Route | null {
  for (const c of candidates) if (underPrefix(path, c.prefix)) return c.route;
  return null;
}

/** "/api" serves "/api" and "/api/x" but not "/apix"; "/api/" serves "/api/x". */
function underPrefix(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith("/") || path.length === prefix.length || path[prefix.length] === "/";
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
