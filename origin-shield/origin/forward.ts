/**
 * The request the shield sends to an origin, built from the client's by the one
 * request-header policy both tiers share (core/policy/forward-request.ts): hop-by-hop,
 * forwarding and override fields dropped, Via, X-Forwarded-For (the chain this node can
 * vouch for, http/client-address.ts), -Proto and -Host (as keyed) set by this node.
 * Host is the origin's own: undici sets it from the URL.
 *
 * The URL fetched is made only by the origin's pool (pool.ts), from one of the
 * configured origin's servers (the origin chosen by core/routing) plus the request's
 * normalised path and query: no request can name another host.
 */
import type { HeaderPairs } from "../../core/policy/index.ts";
import { forwardRequestHeaders } from "../../core/policy/index.ts";
import { type NodeHeaders, nodeHeaderPairs } from "../http/headers.ts";

export interface ForwardOptions {
  readonly method: string;
  /** This node's name for Via. */
  readonly via: string;
  /** The X-Forwarded-For chain to send, null for none. */
  readonly forwardedFor: string | null;
  /** Scheme and host (normalised, as keyed) the client used. */
  readonly proto: string;
  readonly host: string;
  /** A fetch for the cache: the client's conditionals, range and overrides stripped. */
  readonly fill: boolean;
  /** The request carries a body to forward: its Content-Length goes with it. */
  readonly withBody: boolean;
  /** Extra fields to set, e.g. our own If-None-Match for a revalidation. */
  readonly extra?: HeaderPairs | undefined;
}

/** Flat [name, value, …] for undici. */
export function forwardHeaders(client: NodeHeaders, options: ForwardOptions): string[] {
  const pairs = forwardRequestHeaders(nodeHeaderPairs(client), {
    method: options.method,
    forCache: options.fill,
    via: options.via,
    host: options.host,
    proto: options.proto,
    forwardedFor: options.forwardedFor,
  });
  const out: string[] = [];
  for (const [n, v] of pairs) out.push(n, v);
  const length =
    options.withBody && Object.hasOwn(client, "content-length")
      ? client["content-length"]
      : undefined;
  // The body is forwarded byte for byte, so its length is still true; without it undici
  // would send it chunked, which some origins refuse for uploads.
  if (typeof length === "string") out.push("content-length", length);
  if (options.extra !== undefined) for (const [n, v] of options.extra) out.push(n, v);
  return out;
}
