/**
 * Requests the cache does not answer: other methods (forwarded with their body) and
 * bypassed GET/HEAD (a bypass cookie, a bypass rule). Nothing is stored; the response
 * streams straight through.
 */
import type { CacheStatusMember } from "../../core/http/cache-status.ts";
import { forwardedMember, type HeaderReader } from "../../core/policy/index.ts";
import { pairsSource } from "../http/headers.ts";
import { classify, type OriginResponse } from "../origin/client.ts";
import type { OriginFetchDeps } from "../origin/fetcher.ts";
import { forwardHeaders } from "../origin/forward.ts";
import { OriginDown } from "../origin/origin-error.ts";
import { originFailure } from "../rejection.ts";
import { type BodyStream, relayed, type ShieldResponse } from "../respond.ts";
import type { RoutedRequest } from "../types.ts";

export interface PassOptions {
  readonly fwd: NonNullable<CacheStatusMember["fwd"]>;
  readonly detail?: string | undefined;
  /** Forward the request body. */
  readonly body: boolean;
  /** Called with the origin's response head (invalidation after unsafe methods). */
  readonly onResponse?: ((status: number, headers: HeaderReader) => void) | undefined;
}

export async function passThrough(
  deps: OriginFetchDeps,
  routed: RoutedRequest,
  options: PassOptions,
): Promise<ShieldResponse> {
  const client = routed.client;
  const withBody = options.body && client.body !== null;
  const headers = forwardHeaders(client.headers, {
    method: client.method,
    via: deps.name,
    forwardedFor: routed.forwardedFor,
    proto: routed.proto,
    host: routed.url.host,
    fill: false,
    withBody,
  });
  deps.metrics.originRequests.labels(routed.origin.name, "pass").inc();
  let res: OriginResponse;
  try {
    res = await deps.pools.request(routed.origin, routed.url, {
      method: client.method,
      headers,
      body: withBody ? client.body : null,
      interim: client.interim,
    });
  } catch (err) {
    const error = classify(err);
    if (!(error instanceof OriginDown)) deps.metrics.originErrors.labels(error.kind).inc();
    return originFailure(deps.name, options.fwd, error, false);
  }
  const member = forwardedMember(deps.name, {
    fwd: options.fwd,
    status: res.status,
    stored: false,
    detail: options.detail,
  });
  let body: BodyStream | null = null;
  if (client.method === "HEAD") res.dispose();
  else {
    const source = res.body;
    body = {
      [Symbol.asyncIterator]: () => source[Symbol.asyncIterator](),
      close: () => res.dispose(),
    };
  }
  options.onResponse?.(res.status, pairsSource(res.headers));
  return relayed(res.status, res.headers, member, body, "pass");
}
