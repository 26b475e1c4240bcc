/**
 * How a fill reaches the origin for a routed request: the request the shield forwards
 * (origin/forward.ts) sent through the origin client, counted in metrics by origin and
 * kind, failures by kind.
 */
import type { Fetcher } from "../collapse/fill.ts";
import type { ShieldMetrics } from "../observe/metrics.ts";
import type { RoutedRequest } from "../types.ts";
import type { OriginClient } from "./client.ts";
import { forwardHeaders, forwardUrl } from "./forward.ts";
import { OriginError } from "./origin-error.ts";

export interface OriginFetchDeps {
  /** This node's name for Via. */
  readonly name: string;
  readonly origin: OriginClient;
  readonly metrics: ShieldMetrics;
}

export function originFetcher(deps: OriginFetchDeps, routed: RoutedRequest): Fetcher {
  return async (intent, signal) => {
    const { metrics } = deps;
    const originName = routed.origin.name;
    metrics.originRequests.labels(originName, intent.revalidation ? "revalidate" : "fill").inc();
    const headers = forwardHeaders(routed.client.headers, {
      method: "GET",
      via: deps.name,
      forwardedFor: routed.forwardedFor,
      proto: routed.proto,
      host: routed.url.host,
      fill: true,
      withBody: false,
      extra: intent.conditional,
    });
    const started = performance.now();
    try {
      const url = forwardUrl(routed.origin, routed.url);
      const res = await deps.origin.request({ url, method: "GET", headers, signal });
      metrics.originLatency.labels(originName).observe((performance.now() - started) / 1000);
      return res;
    } catch (err) {
      if (err instanceof OriginError) metrics.originErrors.labels(err.kind).inc();
      throw err;
    }
  };
}
