/**
 * One client request as the edge sees it, built once: the normalised target, its origin,
 * the image decision, and a view of the header fields the next hop will receive, which
 * is what the cache policy and the key must look at (the negotiated Accept, the
 * normalised Accept-Encoding), without copying every field on the hit path.
 */
import type { OriginConfig } from "../../core/config/index.ts";
import type { ContentCoding } from "../../core/http/index.ts";
import { forwardedView, type HeaderReader } from "../../core/policy/index.ts";
import type { RequestStore } from "../cache/request-store.ts";
import type { EdgeRuntime } from "../config/runtime.ts";
import type { EdgeHop } from "../observe/request-log.ts";
import { upstreamRequestHeaders } from "../request/forward-headers.ts";
import type { UpstreamHop } from "../upstream/fetch-upstream.ts";

/** What the edge needs of the runtime's ExecutionContext: work that outlives the response. */
export interface BackgroundTasks {
  waitUntil(promise: Promise<unknown>): void;
}

export interface EdgeRequest {
  readonly rt: EdgeRuntime;
  readonly client: Request;
  readonly exec: BackgroundTasks;
  /** The edge's tier, with this request's fields choosing among a key's variants. */
  readonly store: RequestStore;
  /** What the hop to the shields keeps between requests: node marks, the signing secret. */
  readonly upstream: UpstreamHop;
  /** Its W3C trace, the shield node that answered, timings (observe/request-log.ts). */
  readonly hop: EdgeHop;
  /** The clock; `now` is its reading when the request arrived. */
  readonly clock: () => number;
  readonly now: number;
  /** The edge's Cache-Status member name. */
  readonly name: string;
  readonly origin: OriginConfig;
  readonly scheme: string;
  /** Normalised client-facing authority, host[:port]. */
  readonly host: string;
  /** The client's address, sent as X-Forwarded-For; null when the runtime gives none. */
  readonly forwardedFor: string | null;
  /** Normalised path (a transform URL's canonical one) and query. */
  readonly path: string;
  readonly query: string;
  /** The Accept to forward for a negotiated image; undefined: the client's. */
  readonly accept: string | undefined;
  /**
   * The one content coding asked of the shield for a cacheable request, and the value of
   * Accept-Encoding a varying response is selected by (../request/accept-encoding.ts).
   */
  readonly acceptEncoding: ContentCoding;
  /** The response depends on Accept: say so with Vary (negotiated images only). */
  readonly varyAccept: boolean;
  /** The Client Hints the response depends on (width=auto, dpr=auto), for Vary. */
  readonly varyHints: readonly string[];
  /** The forwarded request's fields, as the policy reads them. */
  readonly policyHeaders: HeaderReader;
  /**
   * Normalised URLs whose purge must reach what this request stores, its own first: the
   * stored entry carries their purge tags (core/purge).
   */
  readonly purgeUrls: readonly string[];
}

/** What this hop writes into the forwarded request itself (../request/forward-headers.ts). */
export interface SentFields {
  readonly accept: string | undefined;
  readonly acceptEncoding: ContentCoding;
  readonly host: string;
  readonly scheme: string;
  readonly forwardedFor: string | null;
}

/**
 * The fields of the request a cacheable miss forwards, read without building them: the
 * request-header policy's view (core forwardedView: the X-Forwarded fields this hop
 * writes, and nothing it drops), with the negotiated Accept and the normalised
 * Accept-Encoding this hop sends. A response that varies on X-Forwarded-For was stored
 * for the address the edge sent, and a client who claims that address must not be
 * handed it. A cacheable miss is fetched as a GET.
 */
export function policyView(client: Headers, sent: SentFields): HeaderReader {
  const forwarded = forwardedView(client, "GET", {
    host: sent.host,
    proto: sent.scheme,
    forwardedFor: sent.forwardedFor,
  });
  return {
    get(name: string): string | null {
      switch (name.toLowerCase()) {
        case "accept":
          return sent.accept ?? client.get(name);
        case "accept-encoding":
          return sent.acceptEncoding;
        default:
          return forwarded.get(name);
      }
    },
  };
}

/**
 * The header fields to send upstream with `method`; `complete` for a cacheable request
 * (see upstreamRequestHeaders).
 */
export function upstreamHeaders(er: EdgeRequest, method: string, complete: boolean): Headers {
  return upstreamRequestHeaders(er.client.headers, {
    method,
    host: er.host,
    scheme: er.scheme,
    via: er.name,
    forwardedFor: er.forwardedFor,
    accept: er.accept,
    acceptEncoding: er.acceptEncoding,
    complete,
    trace: er.hop.trace,
  });
}
