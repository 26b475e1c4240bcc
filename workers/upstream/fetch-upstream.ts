/**
 * Sending a request on: to the shield node that owns the key (rendezvous hashing), then
 * the next in the key's order when a node fails; or, with no shields configured, to the
 * request's origin.
 *
 * A node has failed when the connection fails, when its response headers do not arrive
 * within `edge.shieldTimeoutMs`, or when it answers 5xx without a Cache-Status field:
 * then no shield answered (a load balancer in front of a crashed node, or a shield that
 * failed unexpectedly) and another node may well succeed. A 5xx with a Cache-Status is a
 * shield's answer: the origin's own error relayed (`fwd-status=503`) or the shield's
 * deliberate refusal (`detail=origin-timeout`, `detail=queue_full`). Another node would
 * ask the same origin again and add to its load, so that answer goes to the client (or
 * to stale-if-error) as it is. Only GET and HEAD are retried (at most `edge.maxAttempts`
 * nodes): another method may have had effects on the first node, and its body cannot be
 * sent twice.
 *
 * A node that failed is marked down for a while (node-health.ts) and tried after the
 * others; while another node is left to try, a node gets `edge.firstByteTimeoutMs` (when
 * set) rather than the whole `edge.shieldTimeoutMs`. With EDGE_SHIELD_SECRET set, each
 * request to a node carries the edge's signature (sign-request.ts). None of this applies
 * without shields: an origin fetched directly is the only place to go, and is not ours
 * to sign for.
 */
import type { OriginConfig } from "../../core/config/index.ts";
import { originTarget, rendezvousOrder } from "../../core/routing/index.ts";
import type { EdgeRuntime } from "../config/runtime.ts";
import type { NodeHealth } from "./node-health.ts";
import { signedHeaders } from "./sign-request.ts";

export interface UpstreamRequest {
  readonly method: string;
  /** Normalised path and query (without "?"). */
  readonly path: string;
  readonly query: string;
  readonly headers: Headers;
  readonly body?: ReadableStream | null | undefined;
  /** The cache key: picks the shield node. */
  readonly key: string;
  readonly origin: OriginConfig;
}

export type UpstreamOutcome =
  | {
      readonly kind: "response";
      readonly response: Response;
      /** The base URL that answered, and how many were tried. */
      readonly target: string;
      readonly attempts: number;
    }
  | {
      readonly kind: "failed";
      readonly reason: "timeout" | "unreachable";
      readonly attempts: number;
    };

/** What the edge keeps for the hop to its shields, beyond one request. */
export interface UpstreamHop {
  /** This isolate's marks on nodes that failed. */
  readonly health: NodeHealth;
  /** The clock the marks are kept by, ms. */
  readonly clock: () => number;
  /** EDGE_SHIELD_SECRET; undefined: requests go unsigned. */
  readonly secret: string | undefined;
}

/** The base URLs to try, in order: the key's rendezvous order, nodes marked down last. */
export function upstreamTargets(
  rt: EdgeRuntime,
  req: UpstreamRequest,
  health: NodeHealth,
  now: number,
): readonly string[] {
  if (rt.shields === null) return [req.origin.url];
  const order = health.order(rendezvousOrder(rt.shields, req.key), now);
  const retryable = req.method === "GET" || req.method === "HEAD";
  return order.slice(0, retryable ? rt.edge.maxAttempts : 1);
}

class Timeout extends Error {}

export async function fetchUpstream(
  rt: EdgeRuntime,
  req: UpstreamRequest,
  hop: UpstreamHop,
): Promise<UpstreamOutcome> {
  const { edge } = rt;
  const shields = rt.shields !== null;
  const health = hop.health;
  const backoff = { baseMs: edge.nodeBackoffMs, maxMs: edge.nodeMaxBackoffMs };
  const targets = upstreamTargets(rt, req, health, hop.clock());
  let reason: "timeout" | "unreachable" = "unreachable";
  for (let i = 0; i < targets.length; i++) {
    const base = targets[i]!;
    const last = i === targets.length - 1;
    const timeoutMs = last
      ? edge.shieldTimeoutMs
      : Math.min(edge.firstByteTimeoutMs ?? edge.shieldTimeoutMs, edge.shieldTimeoutMs);
    // Before any await: a request arriving meanwhile must see the node as taken.
    if (shields) health.trying(base, hop.clock(), timeoutMs);
    const url = originTarget(base, req.path, req.query);
    const headers =
      shields && hop.secret !== undefined
        ? await signedHeaders(hop.secret, req.method, url, req.headers)
        : req.headers;
    let response: Response;
    try {
      response = await fetchWithTimeout(
        url,
        {
          method: req.method,
          headers,
          body: req.body ?? null,
          // 3xx go to the client as they are; bytes as the shield sent them (a
          // precompressed body is not decoded here and re-encoded by the runtime).
          redirect: "manual",
          encodeResponseBody: "manual",
        },
        timeoutMs,
      );
    } catch (error) {
      reason = error instanceof Timeout ? "timeout" : "unreachable";
      if (shields) health.failed(base, hop.clock(), backoff);
      continue;
    }
    if (noShieldAnswered(response)) {
      if (shields) health.failed(base, hop.clock(), backoff);
      if (!last) {
        await response.body?.cancel();
        continue;
      }
    } else if (shields) {
      health.succeeded(base);
    }
    return { kind: "response", response, target: base, attempts: i + 1 };
  }
  return { kind: "failed", reason, attempts: targets.length };
}

/** A 5xx no shield signed (see above): the node, not the origin, failed. */
function noShieldAnswered(response: Response): boolean {
  return response.status >= 500 && !response.headers.has("cache-status");
}

/**
 * fetch with a deadline on the response headers only: AbortSignal.timeout would also cut
 * a large body that is still streaming when it fires.
 */
async function fetchWithTimeout(url: string, init: RequestInit, ms: number): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, ms);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } catch (error) {
    throw timedOut ? new Timeout() : error;
  } finally {
    clearTimeout(timer);
  }
}
