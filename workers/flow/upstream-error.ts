import type { CacheStatusMember } from "../../core/http/index.ts";
import { EdgeError } from "../errors.ts";
import type { UpstreamOutcome } from "../upstream/fetch-upstream.ts";
import type { EdgeRequest } from "./edge-request.ts";

/** 504 when every node (or the origin) timed out, 502 when none could be reached. */
export function upstreamError(
  er: EdgeRequest,
  up: Extract<UpstreamOutcome, { kind: "failed" }>,
  member: CacheStatusMember,
): Response {
  const what =
    er.rt.shields === null ? `origin ${er.origin.name}` : `${up.attempts} shield node(s)`;
  return up.reason === "timeout"
    ? new EdgeError("upstream_timeout", `no response from ${what} in time`).toResponse(member)
    : new EdgeError("upstream_unreachable", `could not connect to ${what}`).toResponse(member);
}
