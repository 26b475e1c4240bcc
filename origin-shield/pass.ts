/**
 * Requests the cache does not answer: other methods (forwarded with their body, then
 * invalidating per RFC 9111 §4.4) and bypassed GET/HEAD (a session cookie, a bypass
 * rule). Nothing is stored; the response streams straight through.
 */
import type { CacheStatusMember } from "../core/http/cache-status.ts";
import { normaliseUrl } from "../core/key/index.ts";
import { forwardedMember, type HeaderReader, invalidatedUrls } from "../core/policy/index.ts";
import type { ShieldContext } from "./context.ts";
import type { Prepared, ShieldRequest } from "./handler.ts";
import { pairsSource } from "./http/headers.ts";
import { classify } from "./origin/client.ts";
import { forwardHeaders } from "./origin/forward.ts";
import { type BodyStream, originErrorResponse, relayed, type ShieldResponse } from "./respond.ts";
import { forwardUrl } from "./routing.ts";

export interface PassOptions {
  readonly fwd: NonNullable<CacheStatusMember["fwd"]>;
  readonly detail?: string | undefined;
  /** Forward the request body. */
  readonly body: boolean;
  /** Called with the origin's response head (invalidation after unsafe methods). */
  readonly onResponse?: ((status: number, headers: HeaderReader) => void) | undefined;
}

export async function pass(
  ctx: ShieldContext,
  req: ShieldRequest,
  p: Prepared,
  o: PassOptions,
): Promise<ShieldResponse> {
  const withBody = o.body && req.body !== null;
  const headers = forwardHeaders(req.headers, {
    method: req.method,
    via: ctx.name,
    forwardedFor: p.forwardedFor,
    proto: p.proto,
    host: p.url.host,
    fill: false,
    withBody,
  });
  ctx.metrics.originRequests.labels(p.origin.name, "pass").inc();
  let res: Awaited<ReturnType<typeof ctx.origin.request>>;
  try {
    res = await ctx.origin.request({
      url: forwardUrl(p.origin, p.url),
      method: req.method,
      headers,
      body: withBody ? req.body : null,
    });
  } catch (err) {
    const error = classify(err);
    ctx.metrics.originErrors.labels(error.kind).inc();
    return originErrorResponse(ctx.name, o.fwd, error, false);
  }
  const member = forwardedMember(ctx.name, {
    fwd: o.fwd,
    status: res.status,
    stored: false,
    detail: o.detail,
  });
  let body: BodyStream | null = null;
  if (req.method === "HEAD") res.dispose();
  else {
    const source = res.body;
    body = {
      [Symbol.asyncIterator]: () => source[Symbol.asyncIterator](),
      close: () => res.dispose(),
    };
  }
  o.onResponse?.(res.status, pairsSource(res.headers));
  return relayed(res.status, res.headers, member, body, "pass");
}

/** RFC 9111 §4.4: after a non-error response to an unsafe method, drop the stored URIs. */
export function invalidate(
  ctx: ShieldContext,
  method: string,
  p: Prepared,
  status: number,
  headers: HeaderReader,
): void {
  for (const href of invalidatedUrls(method, p.url.url, status, headers)) {
    let url: string;
    try {
      url = normaliseUrl(href, ctx.config.key).url;
    } catch {
      continue;
    }
    for (const key of ctx.store.keysForUrl(url)) ctx.store.delete(key);
  }
}
