/**
 * Joining or starting a key's flight and turning its head into this client's response.
 * A follower is handed only what the sharing rule (core/policy/sharing.ts) lets it have:
 * a response it could have been served from the cache (storable, fresh on arrival,
 * selected by its own Vary values), or an origin's error without private markers, which
 * spares a failing origin the herd. Anything else, and the follower makes its own fetch.
 */
import type { CacheStatusMember } from "../core/http/cache-status.ts";
import type { RequestLike } from "../core/policy/index.ts";
import {
  currentAge,
  followerMayShare,
  followerMayShareError,
  forwardedMember,
  isNotModified,
  mayServeStaleOnError,
  notModifiedHeaders,
  selectsFor,
  staleOnErrorMember,
} from "../core/policy/index.ts";
import { type FillJob, type FlightHead, startFlight } from "./collapse/flight.ts";
import type { ShieldContext } from "./context.ts";
import type { ShieldRequest } from "./handler.ts";
import { nodeHeaderReader, pairsSource } from "./http/headers.ts";
import {
  type BodyStream,
  errorResponse,
  fromStored,
  originErrorResponse,
  relayed,
  type ShieldResponse,
} from "./respond.ts";
import type { StoredObject } from "./store/memory.ts";

export interface FetchContext {
  readonly fwd: NonNullable<CacheStatusMember["fwd"]>;
  /** The stored entry this request found (stale, or another variant), if any. */
  readonly entry: StoredObject | undefined;
  /** The entry may be served if the origin fails (RFC 5861 §4). */
  readonly staleIfError: boolean;
  readonly detail?: string | undefined;
}

export async function awaitFlight(
  ctx: ShieldContext,
  req: ShieldRequest,
  job: FillJob,
  f: FetchContext,
): Promise<ShieldResponse> {
  let flight = job.shared ? ctx.flights.get(job.primary) : undefined;
  let follower = false;
  if (flight?.joinable) {
    if (flight.followers >= ctx.config.shield.collapse.maxWaiters) {
      return errorResponse(
        {
          status: 503,
          code: "queue_full",
          message: "too many requests are waiting for this object",
        },
        "rejected",
        forwardedMember(ctx.name, { fwd: f.fwd, stored: false, detail: "queue_full" }),
        ["retry-after", "1"],
      );
    }
    flight.followers++;
    follower = true;
    ctx.metrics.collapsed.inc();
  } else {
    flight = startFlight(ctx, job);
  }
  // The reader is attached before the head arrives so that it starts at byte 0.
  const stream = req.method === "HEAD" ? null : flight.body.reader();
  const head = await flight.head;
  const request = { method: req.method, headers: job.request.headers };
  const outcome = follower ? "collapsed" : f.fwd === "stale" ? "revalidated" : "miss";

  if (head.kind === "error") {
    stream?.close();
    return (
      failed(ctx, req, f, undefined) ?? originErrorResponse(ctx.name, f.fwd, head.error, follower)
    );
  }
  if (head.kind === "refreshed") {
    stream?.close();
    if (selectsFor(head.obj.meta, job.request) !== "ok") return ownFetch(ctx, req, job, f);
    const member = forwardedMember(ctx.name, {
      fwd: f.fwd,
      status: 304,
      stored: head.stored,
      collapsed: follower,
    });
    const age = currentAge(head.obj.meta, ctx.now());
    return fromStored(request, head.obj, age, member, outcome);
  }
  if (head.status >= 500) {
    const stale = failed(ctx, req, f, head.status);
    if (stale !== null) {
      stream?.close();
      return stale;
    }
  }
  if (follower && !mayShare(ctx, head, job.request)) {
    stream?.close();
    return ownFetch(ctx, req, job, f);
  }
  const member = forwardedMember(ctx.name, {
    fwd: f.fwd,
    status: head.status,
    stored: head.storing,
    collapsed: follower,
    detail: head.detail ?? f.detail,
  });
  // A conditional client request answered from the new response (RFC 9111 §4.3.2).
  if (head.status === 200 && head.plan.store && isNotModified(request, head.headers)) {
    stream?.close();
    return {
      status: 304,
      headers: relayed(304, notModifiedHeaders(head.headers), member, null, outcome).headers,
      body: null,
      outcome,
    };
  }
  const r = relayed(head.status, head.headers, member, stream as BodyStream | null, outcome);
  return head.plan.store ? { ...r, lifetime: head.plan.meta } : r;
}

/** The sharing rule for a response its leader's fetch is receiving. */
function mayShare(
  ctx: ShieldContext,
  head: Extract<FlightHead, { kind: "response" }>,
  follower: RequestLike,
): boolean {
  if (head.plan.store) return followerMayShare(head.plan, follower);
  return followerMayShareError(
    head.status,
    pairsSource(head.headers),
    head.request,
    follower,
    ctx.options,
  );
}

/** A follower that may not share the leader's response goes to the origin itself. */
function ownFetch(
  ctx: ShieldContext,
  req: ShieldRequest,
  job: FillJob,
  f: FetchContext,
): Promise<ShieldResponse> {
  const own: FillJob = { ...job, shared: false };
  return awaitFlight(ctx, req, own, f);
}

/**
 * The stale copy when the origin failed (`status`: the 5xx it sent; undefined when it
 * could not be reached) and the entry allows it (RFC 5861 §4), else null.
 */
function failed(
  ctx: ShieldContext,
  req: ShieldRequest,
  f: FetchContext,
  status: number | undefined,
): ShieldResponse | null {
  const entry = f.entry;
  const now = ctx.now();
  if (entry === undefined || !f.staleIfError || !mayServeStaleOnError(entry.meta, now)) return null;
  const ttl = (entry.meta.freshUntil - now) / 1000;
  const member = staleOnErrorMember(ctx.name, ttl, status);
  const request = { method: req.method, headers: nodeHeaderReader(req.headers) };
  return fromStored(request, entry, currentAge(entry.meta, now), member, "stale_error");
}
