/**
 * The request header fields the edge sends upstream: to a shield node (or an origin). What is dropped and
 * what this hop writes is core's one policy for both tiers (core/policy/forward-request.ts):
 * hop-by-hop fields go; the client's own forwarding fields (X-Forwarded-*, Forwarded,
 * X-Real-IP, …), URL overrides (X-Original-URL, X-Rewrite-URL, X-Host) and Expect never
 * pass, nor do method overrides on a GET or HEAD; a cacheable request also loses its
 * conditionals; and this hop writes Via, X-Forwarded-For, -Proto and -Host from what it
 * checked itself. The edge adds three things of its own: the Accept of a negotiated
 * image, for a cacheable request the one content coding it wants (br, gzip or identity:
 * ./accept-encoding.ts), and its own span of the request's W3C trace in `traceparent`.
 */
import type { ContentCoding } from "../../core/http/index.ts";
import type { HopTrace } from "../../core/http/trace-context.ts";
import { forwardRequestHeaders } from "../../core/policy/index.ts";

export interface UpstreamHeaderOptions {
  /** The method sent on (a cacheable HEAD is fetched as a GET). */
  readonly method: string;
  /** The client-facing authority (host[:port]) and scheme, as normalised. */
  readonly host: string;
  readonly scheme: string;
  /** The Via pseudonym of this hop. */
  readonly via: string;
  /** The client's address this edge vouches for (see clientAddress); null: none. */
  readonly forwardedFor: string | null;
  /** Replaces Accept (the negotiated image type); undefined keeps the client's. */
  readonly accept?: string | undefined;
  /**
   * The coding a cacheable request asks for, sent as the whole Accept-Encoding (core
   * preferredCoding of the client's value); a request passed through keeps the client's.
   */
  readonly acceptEncoding?: ContentCoding | undefined;
  /**
   * A cacheable GET or HEAD: the edge fetches a complete response it can store and share,
   * so conditionals and Range are dropped, and it answers the client's conditions itself.
   */
  readonly complete: boolean;
  /**
   * This hop's W3C trace (core/http/trace-context.ts): its `traceparent` replaces the
   * client's, and the client's `tracestate` goes only with a trace it continues.
   */
  readonly trace?: HopTrace | undefined;
}

/**
 * The client's address as Cloudflare reports it: CF-Connecting-IP is set by Cloudflare
 * on every request a Worker receives, replacing any a client sent, so unlike the
 * client's X-Forwarded-For it can be believed. Null where nothing sets it (local runs).
 */
export function clientAddress(client: Headers): string | null {
  return client.get("cf-connecting-ip");
}

/** core's forwardRequestHeaders as a Headers, with the edge's Accept and Accept-Encoding. */
export function upstreamRequestHeaders(client: Headers, options: UpstreamHeaderOptions): Headers {
  const out = new Headers();
  const pairs = forwardRequestHeaders(client, {
    method: options.method,
    forCache: options.complete,
    via: options.via,
    host: options.host,
    proto: options.scheme,
    forwardedFor: options.forwardedFor,
  });
  for (const [name, value] of pairs) out.append(name, value);
  if (options.accept !== undefined) out.set("accept", options.accept);
  const trace = options.trace;
  if (trace !== undefined) {
    out.set("traceparent", trace.traceparent);
    if (trace.restarted) out.delete("tracestate");
  }
  if (options.complete && options.acceptEncoding !== undefined) {
    out.set("accept-encoding", options.acceptEncoding);
  }
  return out;
}
