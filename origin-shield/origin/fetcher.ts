/**
 * How a fill reaches the origin for a routed request: the request the shield forwards
 * (origin/forward.ts) sent to a server of the origin's pool (pool.ts), counted in metrics
 * by origin and kind, failures by kind (an origin with every server out is counted by
 * the pool, not here: nothing was sent).
 */
import type { Fetcher } from "../collapse/fill.ts";
import type { ShieldMetrics } from "../observe/metrics.ts";
import type { RoutedRequest } from "../types.ts";
import { forwardHeaders } from "./forward.ts";
import { OriginDown, OriginError } from "./origin-error.ts";
import { wholeOrRefused } from "./partial.ts";
import type { OriginPools } from "./pool.ts";

export interface OriginFetchDeps {
  /** This node's name for Via. */
  readonly name: string;
  readonly pools: OriginPools;
  readonly metrics: ShieldMetrics;
}

export function originFetcher(deps: OriginFetchDeps, routed: RoutedRequest): Fetcher {
  return async (intent, signal) => {
    const { metrics } = deps;
    const originName = routed.origin.name;
    metrics.originRequests.labels(originName, intent.revalidation ? "revalidate" : "fill").inc();
    // A slice is asked in identity: parts combine only as the same bytes (RFC 9111 §3.4),
    // and a coding an origin picks for a part would make it useless as one.
    const client =
      intent.range === undefined
        ? routed.client.headers
        : { ...routed.client.headers, "accept-encoding": "identity" };
    const headers = forwardHeaders(client, {
      method: "GET",
      via: deps.name,
      forwardedFor: routed.forwardedFor,
      proto: routed.proto,
      host: routed.url.host,
      fill: true,
      withBody: false,
      extra:
        intent.range === undefined
          ? intent.conditional
          : [...intent.conditional, ["range", intent.range]],
    });
    const started = performance.now();
    try {
      // Interim responses go to the client whose request started this fetch, and only
      // while it waits for the head: followers and later hits never see them.
      const request = { method: "GET", headers, signal, interim: routed.client.interim };
      const res = await deps.pools.request(routed.origin, routed.url, request);
      metrics.originLatency.labels(originName).observe((performance.now() - started) / 1000);
      // A 206 is an answer only to a request that asked for a range (a slice).
      return intent.range === undefined ? wholeOrRefused(res) : res;
    } catch (err) {
      if (err instanceof OriginError && !(err instanceof OriginDown)) {
        metrics.originErrors.labels(err.kind).inc();
      }
      throw err;
    }
  };
}
