import type { CacheStatusMember } from "../../core/http/index.ts";
import { fetchUpstream } from "../upstream/fetch-upstream.ts";
import { type EdgeRequest, forwardFor } from "./edge-request.ts";
import { storeAndRelay } from "./store.ts";
import { upstreamError } from "./upstream-error.ts";

/** Forward a cacheable request, store the response per policy, respond. */
export async function fetchAndStore(
  er: EdgeRequest,
  name: string,
  key: string,
  fwd: NonNullable<CacheStatusMember["fwd"]>,
): Promise<Response> {
  const headers = forwardFor(er, true);
  const requestTime = er.clock();
  const up = await fetchUpstream(er.rt, {
    method: "GET",
    path: er.path,
    query: er.query,
    headers,
    key,
    origin: er.origin,
  });
  if (up.kind === "failed") return upstreamError(er, up, { cache: er.name, fwd });
  return storeAndRelay(er, name, key, up.response, headers, requestTime, er.clock(), fwd);
}
