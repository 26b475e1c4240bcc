/**
 * The request header fields sent to a shield node (or an origin): the client's, minus
 * hop-by-hop fields (RFC 9110 §7.6.1), plus what the next hop needs to know about the
 * client-facing request: X-Forwarded-Host (the shield routes by it to an origin),
 * X-Forwarded-Proto, and this hop in Via (RFC 9110 §7.6.3).
 */
import { withoutHopByHop } from "../../core/policy/index.ts";
import { normaliseAcceptEncoding } from "./accept-encoding.ts";

/** Fields that make a request conditional or partial (RFC 9110 §13.1, §14.2). */
const CONDITIONAL = new Set([
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "range",
]);

/** Set by fetch() from the URL, never copied from the client (RFC 9110 §7.2). */
const NOT_FORWARDED = new Set(["host", "content-length"]);

export interface ForwardOptions {
  /** The client-facing authority (host[:port]) and scheme, as normalised. */
  readonly host: string;
  readonly scheme: string;
  /** The Via pseudonym of this hop. */
  readonly via: string;
  /** Replaces Accept (the negotiated image type); undefined keeps the client's. */
  readonly accept?: string | undefined;
  /**
   * Drop conditionals and Range: the edge fetches a complete response it can store and
   * answers the client's conditions itself (true for every cacheable request).
   */
  readonly complete: boolean;
}

export function forwardHeaders(client: Headers, options: ForwardOptions): Headers {
  const out = new Headers();
  for (const [name, value] of withoutHopByHop(client)) {
    if (NOT_FORWARDED.has(name)) continue;
    if (options.complete && CONDITIONAL.has(name)) continue;
    out.append(name, value);
  }
  out.set("x-forwarded-host", options.host);
  out.set("x-forwarded-proto", options.scheme);
  const via = client.get("via");
  out.set("via", via === null ? `1.1 ${options.via}` : `${via}, 1.1 ${options.via}`);
  if (options.accept !== undefined) out.set("accept", options.accept);
  if (options.complete) {
    const encoding = normaliseAcceptEncoding(client.get("accept-encoding"));
    if (encoding === null) out.delete("accept-encoding");
    else out.set("accept-encoding", encoding);
  }
  return out;
}
