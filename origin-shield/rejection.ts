/**
 * A request refused before any fetch (a bad target, an unknown host, bad image options,
 * an origin with every server out): an error with a stable code, and this cache's
 * Cache-Status member naming it, like every answer.
 */
import type { CacheStatusMember } from "../core/http/cache-status.ts";
import { forwardedMember } from "../core/policy/index.ts";
import { OriginDown, type OriginError } from "./origin/origin-error.ts";
import {
  type ErrorBody,
  errorResponse,
  originErrorResponse,
  type ShieldResponse,
} from "./respond.ts";

export function rejection(cache: string, error: ErrorBody, extra: string[] = []): ShieldResponse {
  return errorResponse(error, "rejected", { cache, detail: error.code }, extra);
}

/**
 * The answer to a request whose origin failed and that no stale copy may serve: when
 * every server of the origin's pool is out, nothing was sent and the client gets 503
 * origin_down at once, with Retry-After saying when a server may be back (RFC 9110
 * §15.6.4, §10.2.3); any other failure is answered as respond.ts says.
 */
export function originFailure(
  cache: string,
  fwd: NonNullable<CacheStatusMember["fwd"]>,
  error: OriginError,
  collapsed: boolean,
): ShieldResponse {
  if (!(error instanceof OriginDown)) return originErrorResponse(cache, fwd, error, collapsed);
  const member = forwardedMember(cache, { fwd, stored: false, collapsed, detail: "origin-down" });
  const body = {
    status: 503,
    code: "origin_down",
    message: "every server of the origin is down; try again later",
  };
  return errorResponse(body, "error", member, ["retry-after", String(error.retryAfter)]);
}
