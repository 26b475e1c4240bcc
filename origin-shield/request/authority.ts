/**
 * The Host a request names, checked. Routing (core/routing) then picks a configured
 * origin for it: no Host header, absolute-form target or path trick can name another
 * host (RFC 9112 §3.2.2: an absolute-form authority only selects among the configured
 * hosts, like Host does).
 */

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
