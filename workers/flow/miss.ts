import type { CacheStatusMember } from "../../core/http/index.ts";
import type { HeaderPairs } from "../../core/policy/index.ts";
import { noteUpstream } from "../observe/request-log.ts";
import { fetchUpstream, type UpstreamOutcome } from "../upstream/fetch-upstream.ts";
import { type EdgeRequest, upstreamHeaders } from "./edge-request.ts";
import { storeAndRelay } from "./store.ts";
import { upstreamError } from "./upstream-error.ts";

export interface CacheFetch {
  /** What was sent on (the stored entry's request fields come from it). */
  readonly headers: Headers;
  readonly up: UpstreamOutcome;
  readonly requestTime: number;
  readonly responseTime: number;
}

/**
 * A GET on behalf of the cache, to the key's shield node (or the origin), with the
 * stored entry's validators when revalidating (RFC 9111 §4.3.1), timed for the policy.
 */
export async function fetchForCache(
  er: EdgeRequest,
  key: string,
  validators: HeaderPairs = [],
): Promise<CacheFetch> {
  const headers = upstreamHeaders(er, "GET", true);
  for (const [n, v] of validators) headers.set(n, v);
  const requestTime = er.clock();
  const sentAt = performance.now();
  const up = await fetchUpstream(
    er.rt,
    {
      method: "GET",
      path: er.path,
      query: er.query,
      headers,
      key,
      origin: er.origin,
    },
    er.upstream,
  );
  noteUpstream(er.hop, up, sentAt);
  return { headers, up, requestTime, responseTime: er.clock() };
}

/** Forward a cacheable request, store the response per policy, respond. */
export async function fetchAndStore(
  er: EdgeRequest,
  name: string,
  key: string,
  fwd: NonNullable<CacheStatusMember["fwd"]>,
): Promise<Response> {
  const { headers, up, requestTime, responseTime } = await fetchForCache(er, key);
  if (up.kind === "failed") return upstreamError(er, up, { cache: er.name, fwd });
  return storeAndRelay(er, name, key, up.response, headers, requestTime, responseTime, fwd);
}
