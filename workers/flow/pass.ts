/**
 * Requests the edge does not cache: methods other than GET and HEAD, requests with a
 * bypass cookie, and paths a rule marks bypass. They go to the shield as they are
 * (conditionals, Range and body included) and their answers are never stored; a 200 to
 * a HEAD renews or drops the stored GET for the same key (RFC 9111 §4.3.5).
 */
import { type Disposition, forwardedMember } from "../../core/policy/index.ts";
import { noteUpstream } from "../observe/request-log.ts";
import { fetchUpstream } from "../upstream/fetch-upstream.ts";
import { type EdgeRequest, upstreamHeaders } from "./edge-request.ts";
import { invalidateAfterUnsafe } from "./invalidate.ts";
import { relay } from "./respond.ts";
import { freshenFromHead } from "./revalidate.ts";
import { upstreamError } from "./upstream-error.ts";

/** Bypass: send the request on as it is, store nothing (core requestDisposition said so). */
export async function passThrough(
  er: EdgeRequest,
  key: string,
  { fwd, detail }: Extract<Disposition, { kind: "pass" }>,
): Promise<Response> {
  const method = er.client.method;
  const sentAt = performance.now();
  const requestTime = er.clock();
  const up = await fetchUpstream(
    er.rt,
    {
      method,
      path: er.path,
      query: er.query,
      headers: upstreamHeaders(er, method, false),
      body: method === "GET" || method === "HEAD" ? null : er.client.body,
      key,
      origin: er.origin,
    },
    er.upstream,
  );
  noteUpstream(er.hop, up, sentAt);
  if (up.kind === "failed") return upstreamError(er, up, { cache: er.name, fwd, detail });
  const response = up.response;
  invalidateAfterUnsafe(er, response);
  freshenFromHead(er, key, response, requestTime);
  const member = forwardedMember(er.name, { fwd, status: response.status, stored: false, detail });
  return relay(er, response, response.body, member);
}
