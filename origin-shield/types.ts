/**
 * The shield's shared vocabulary, imported by every layer and importing none of them: a
 * request as a transport hands it in, the same request once routed to an origin, and
 * the absolute lifetimes a stored entry keeps.
 */
import type { OriginConfig } from "../core/config/index.ts";
import type { NormalisedUrl } from "../core/key/index.ts";
import type { EntryMeta, HeaderPairs, HeaderReader } from "../core/policy/index.ts";
import type { NodeHeaders } from "./http/headers.ts";

/** A client's request, as a transport (node:http or a web Request) hands it in. */
export interface ShieldRequest {
  readonly method: string;
  /** The request-target as received: origin-form "/p?q" or absolute-form "http://h/p". */
  readonly target: string;
  readonly headers: NodeHeaders;
  readonly remoteAddress: string | undefined;
  /** The client reached us over TLS. */
  readonly secure: boolean;
  /** The request body, for methods that carry one. */
  readonly body: AsyncIterable<Uint8Array> | null;
  /**
   * Where interim (1xx) responses the origin sends for this request's own fetch go
   * (origin/interim.ts); absent where the transport cannot write them (the web one).
   */
  readonly interim?: InterimSink | undefined;
}

/** Takes a 102 or 103 the origin sent (status, the fields relayed), before the final head. */
export type InterimSink = (status: number, headers: HeaderPairs) => void;

/**
 * A request once its target is parsed, its URL normalised and its origin chosen
 * (request/prepare.ts): what every route works from.
 */
export interface RoutedRequest {
  readonly method: string;
  /** The client's headers as the origin will receive them (the key and Vary read these). */
  readonly reader: HeaderReader;
  readonly url: NormalisedUrl;
  /** The configured origin that serves it (core/routing). */
  readonly origin: OriginConfig;
  readonly proto: string;
  readonly authority: string;
  /** The X-Forwarded-For chain this node vouches for (http/client-address.ts). */
  readonly forwardedFor: string | null;
  /** The client's own request, for what is forwarded. */
  readonly client: ShieldRequest;
}

/** When a stored entry stops being fresh, and its stale windows end (ms since epoch). */
export type Lifetimes = Pick<
  EntryMeta,
  "freshUntil" | "staleWhileRevalidateUntil" | "staleIfErrorUntil"
>;

/** A body sent as it is read (an origin's, or a file's): iterate it, or close it unread. */
export type BodyStream = AsyncIterable<Buffer> & { close(): void };

/** A body held on disk and read as it is sent: for objects too large to hold in memory. */
export interface StreamedBody {
  readonly size: number;
  /** The bytes start..end inclusive, read as the stream is consumed. */
  open(start: number, end: number): BodyStream;
}
