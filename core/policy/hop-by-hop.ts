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

/**
 * The connection options a Connection field value lists (RFC 9110 §7.6.1:
 * `Connection = #connection-option`, tokens compared case-insensitively), lowercase, in
 * order, empty list elements skipped. The one parser of Connection at both tiers: every
 * field it names is hop-by-hop for that message. `value` may be several field lines
 * joined with commas; null (no Connection field) lists nothing.
 */
export function connectionTokens(value: string | null): string[] {
  if (value === null) return [];
  const out: string[] = [];
  for (const part of value.split(",")) {
    const token = part.trim().toLowerCase();
    if (token !== "") out.push(token);
  }
  return out;
}

/** Field names a message's Connection header lists, lowercase (RFC 9110 §7.6.1). */
export function connectionListed(headers: HeaderReader): Set<string> {
  return new Set(connectionTokens(headers.get("connection")));
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
  for (const [field, value] of list) {
    if (field.toLowerCase() === "connection") {
      listed ??= new Set();
      for (const token of connectionTokens(value)) listed.add(token);
    }
  }
  const out: HeaderPairs = [];
  for (const [field, value] of list) {
    const name = field.toLowerCase();
    if (HOP_BY_HOP.has(name) || listed?.has(name) || extra.has(name)) continue;
    out.push([name, value]);
  }
  return out;
}

const EMPTY: ReadonlySet<string> = new Set();
