import type { HeaderPairs, HeaderReader } from "./types.ts";

/**
 * Fields that describe one connection, never the message: RFC 9110 §7.6.1 lists
 * Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade;
 * Trailer and the Proxy-Authenticate/-Authorization pair are hop-by-hop in practice
 * (RFC 2616 §13.5.1 named them). A proxy neither forwards nor stores them.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name.toLowerCase());
}

/** Field names a message's Connection header lists, lowercase (RFC 9110 §7.6.1). */
export function connectionListed(headers: HeaderReader): Set<string> {
  const out = new Set<string>();
  const value = headers.get("connection");
  if (value === null) return out;
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase();
    if (name !== "") out.add(name);
  }
  return out;
}

/**
 * Copy of `pairs` without hop-by-hop fields, Connection-listed fields, and any
 * `extra` names (lowercase). Names are lowercased in the result.
 */
export function withoutHopByHop(
  pairs: Iterable<[string, string]>,
  extra: ReadonlySet<string> = EMPTY,
): HeaderPairs {
  const list = Array.isArray(pairs) ? (pairs as [string, string][]) : [...pairs];
  let listed: Set<string> | null = null;
  for (const [n, v] of list) {
    if (n.toLowerCase() === "connection") {
      listed ??= new Set();
      for (const part of v.split(",")) {
        const name = part.trim().toLowerCase();
        if (name !== "") listed.add(name);
      }
    }
  }
  const out: HeaderPairs = [];
  for (const [n, v] of list) {
    const name = n.toLowerCase();
    if (HOP_BY_HOP.has(name) || listed?.has(name) || extra.has(name)) continue;
    out.push([name, v]);
  }
  return out;
}

const EMPTY: ReadonlySet<string> = new Set();
