/**
 * The request the shield sends to an origin, built from the client's (RFC 9110 §7.6):
 * hop-by-hop fields and those the Connection header lists are removed; Host is the
 * origin's own (undici sets it from the URL); Via gains this hop; X-Forwarded-For,
 * -Proto and -Host tell the origin who asked.
 */
import type { HeaderPairs } from "../../core/policy/index.ts";
import { isHopByHop } from "../../core/policy/index.ts";
import type { NodeHeaders } from "../http/headers.ts";

/**
 * Fields a fill for the cache must not forward: the cache needs the full, unconditional
 * response whatever this client asked (its conditional or range is answered from the
 * stored copy), and Host is the origin's.
 */
const NOT_FOR_FILL = new Set([
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
  "if-range",
  "range",
]);

const ALWAYS_DROPPED = new Set(["host", "x-forwarded-host", "x-forwarded-proto"]);

export interface ForwardOptions {
  /** This node's name for Via. */
  readonly via: string;
  /** The client's address (appended to X-Forwarded-For), when known. */
  readonly clientAddress: string | undefined;
  /** Scheme and host the client used. */
  readonly proto: string;
  readonly host: string;
  /** Fill for the cache: strip the client's conditionals and range. */
  readonly fill: boolean;
  /** The request carries a body to forward (otherwise Content-Length is dropped). */
  readonly withBody: boolean;
  /** Extra fields to set, e.g. our own If-None-Match for a revalidation. */
  readonly extra?: HeaderPairs | undefined;
}

export function forwardHeaders(client: NodeHeaders, o: ForwardOptions): string[] {
  const out: string[] = [];
  let listed: Set<string> | null = null;
  const connection = client.connection;
  if (typeof connection === "string") {
    listed = new Set(connection.split(",").map((s) => s.trim().toLowerCase()));
  }
  let via: string | undefined;
  let xff: string | undefined;
  for (const name in client) {
    const value = client[name];
    if (value === undefined) continue;
    if (isHopByHop(name) || ALWAYS_DROPPED.has(name) || listed?.has(name)) continue;
    if (o.fill && NOT_FOR_FILL.has(name)) continue;
    if (!o.withBody && name === "content-length") continue;
    if (name === "via") {
      via = String(value);
      continue;
    }
    if (name === "x-forwarded-for") {
      xff = String(value);
      continue;
    }
    if (typeof value === "string") out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  if (o.extra !== undefined) for (const [n, v] of o.extra) out.push(n, v);
  out.push("via", via === undefined ? `1.1 ${o.via}` : `${via}, 1.1 ${o.via}`);
  if (o.clientAddress !== undefined) {
    out.push("x-forwarded-for", xff === undefined ? o.clientAddress : `${xff}, ${o.clientAddress}`);
  } else if (xff !== undefined) out.push("x-forwarded-for", xff);
  out.push("x-forwarded-proto", o.proto, "x-forwarded-host", o.host);
  return out;
}
