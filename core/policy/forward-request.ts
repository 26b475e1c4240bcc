/**
 * The one request-header policy for what reaches the next hop, at both tiers (the edge
 * towards a shield, the shield towards an origin).
 *
 * A cached answer is served to everyone whose request has the same key, so a header the
 * key does not hold must not be able to change what the origin answers for everyone
 * ("cache poisoning"). Request headers are hostile data: the fields below tell origins
 * and their frameworks who the client is or which URL and method to serve *instead of*
 * the request line, and a client may write any of them. They are dropped, and the ones
 * an origin needs (X-Forwarded-For, -Proto, -Host, Via) are set by this hop from values
 * it checked itself.
 */
import { EDGE_SIGNATURE_FIELD } from "../auth/edge-signature.ts";
import { CONDITIONAL_FIELDS } from "./conditional.ts";
import { withoutHopByHop } from "./hop-by-hop.ts";
import type { HeaderPairs, HeaderReader } from "./types.ts";

/**
 * Who the client is and how it connected: written by proxies, so a client's own copy is
 * a lie until a trusted hop vouches for it. Dropped everywhere, as is every field named
 * `X-Forwarded-…` (-For, -Host, -Proto, -Port, -Prefix, -Client-Cert, …); this hop sets
 * its own.
 */
const FORWARDED_PREFIX = "x-forwarded-";
const FORWARDING: ReadonlySet<string> = new Set([
  "forwarded", // RFC 7239
  "front-end-https",
  "x-url-scheme",
  "x-real-ip",
  "x-client-ip",
  "client-ip",
  "x-cluster-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "cf-connecting-ipv6",
  "cf-visitor", // {"scheme":"https"}: the scheme Cloudflare saw, trusted by some origins
  "fastly-client-ip",
  "x-arr-ssl",
  "x-arr-clientcert",
]);

/**
 * URL overrides (IIS, Symfony, Zend, some proxies): an origin that obeys them serves
 * another URL than the one keyed, so one request could store, say, the admin page or a
 * 404 under a public URL for everyone, or walk past a path rule. Always dropped.
 */
const URL_OVERRIDES: ReadonlySet<string> = new Set([
  "x-original-url",
  "x-original-uri",
  "x-rewrite-url",
  "x-host",
]);

/**
 * Method overrides (Rails, Laravel, Express middleware): a GET an origin runs as a
 * DELETE, or whose 405 is then stored for everyone. Dropped from GET and HEAD; a POST
 * may still tunnel another method through them (its answer is never stored).
 */
const METHOD_OVERRIDES: ReadonlySet<string> = new Set([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);

/**
 * Range makes a request partial (RFC 9110 §14.2): a fetch for the cache wants the
 * complete response, and drops it with the conditional fields (conditional.ts
 * CONDITIONAL_FIELDS), answering the client's conditions and ranges from that response.
 */
const PARTIAL = "range";

/** Set by the HTTP client from the URL and the body, never copied from the client's. */
const NEVER: ReadonlySet<string> = new Set(["host", "content-length"]);

export interface ForwardRequestOptions {
  /** The request's method. */
  readonly method: string;
  /** A fetch whose answer can be stored or shared: the client's conditionals dropped. */
  readonly forCache: boolean;
  /** This hop's pseudonym in Via (RFC 9110 §7.6.3). */
  readonly via: string;
  /** The client-facing authority as keyed (normalised host[:port]), for X-Forwarded-Host. */
  readonly host: string;
  /** The client-facing scheme as keyed, for X-Forwarded-Proto. */
  readonly proto: string;
  /** The X-Forwarded-For chain this hop vouches for; null sends none. */
  readonly forwardedFor: string | null;
}

/**
 * The header fields to send on, lowercase names, in the client's order, then this hop's:
 * Via (the client's chain plus this hop), X-Forwarded-For, -Proto and -Host.
 */
export function forwardRequestHeaders(
  client: Iterable<[string, string]>,
  options: ForwardRequestOptions,
): HeaderPairs {
  const readOnly = options.method === "GET" || options.method === "HEAD";
  let via: string | null = null;
  const out: HeaderPairs = [];
  // Hop-by-hop and Connection-listed fields go first (names come back lowercase).
  for (const [name, value] of withoutHopByHop(client)) {
    if (NEVER.has(name) || isDropped(name, readOnly)) continue;
    if (options.forCache && (CONDITIONAL_FIELDS.has(name) || name === PARTIAL)) continue;
    if (name === "via") {
      via = via === null ? value : `${via}, ${value}`;
      continue;
    }
    out.push([name, value]);
  }
  out.push(["via", via === null ? `1.1 ${options.via}` : `${via}, 1.1 ${options.via}`]);
  if (options.forwardedFor !== null) out.push(["x-forwarded-for", options.forwardedFor]);
  out.push(["x-forwarded-proto", options.proto], ["x-forwarded-host", options.host]);
  return out;
}

/**
 * Whether a client's field (lowercase name) never reaches the next hop: forwarding
 * fields, URL overrides, method overrides on a GET or HEAD, `Expect`, which this
 * hop's own server answers (RFC 9110 §10.1.1; a client library that does not implement
 * 100-continue would fail the request), and the edge's signature (core/auth), which
 * vouches for one hop only: a client's copy never reaches a shield, and the edge's never
 * reaches an origin.
 */
function isDropped(name: string, readOnly: boolean): boolean {
  return (
    FORWARDING.has(name) ||
    name === EDGE_SIGNATURE_FIELD ||
    name.startsWith(FORWARDED_PREFIX) ||
    URL_OVERRIDES.has(name) ||
    (readOnly && METHOD_OVERRIDES.has(name)) ||
    name === "expect"
  );
}

/** What a hop writes itself into the request it forwards (see forwardRequestHeaders). */
export interface WrittenFields {
  readonly host: string;
  readonly proto: string;
  readonly forwardedFor: string | null;
}

/**
 * The request's fields as the next hop receives them, read without building them: what
 * the cache key and Vary must look at. A response that varies on X-Forwarded-For was
 * made for the address this hop sent, not for the one a client claimed, and a field this
 * policy drops never reached the origin, so it cannot select a response. A class, not a
 * closure: one is made per request on the hit path.
 */
export class ForwardedView implements HeaderReader {
  readonly #client: HeaderReader;
  readonly #readOnly: boolean;
  readonly #written: WrittenFields;

  constructor(client: HeaderReader, method: string, written: WrittenFields) {
    this.#client = client;
    this.#readOnly = method === "GET" || method === "HEAD";
    this.#written = written;
  }

  get(name: string): string | null {
    // Every field this policy writes or drops starts with c, e, f, t or x: the names a
    // hit reads (authorization, if-none-match, range, accept…) go straight through.
    const first = name.charCodeAt(0) | 0x20;
    if (first !== 0x78 && first !== 0x63 && first !== 0x66 && first !== 0x74 && first !== 0x65) {
      return this.#client.get(name);
    }
    const lower = name.toLowerCase();
    if (lower === "x-forwarded-for") return this.#written.forwardedFor;
    if (lower === "x-forwarded-host") return this.#written.host;
    if (lower === "x-forwarded-proto") return this.#written.proto;
    return isDropped(lower, this.#readOnly) ? null : this.#client.get(name);
  }
}

/** A ForwardedView (see there). */
export function forwardedView(
  client: HeaderReader,
  method: string,
  written: WrittenFields,
): HeaderReader {
  return new ForwardedView(client, method, written);
}
