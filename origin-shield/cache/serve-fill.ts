/**
 * A request that needs a fill: join the key's fill or start one, and turn its head into
 * this client's response. A follower is handed only what the sharing rule
 * (core/policy/sharing.ts) lets it have: a response it could have been served from the
 * cache (storable, fresh on arrival, selected by its own Vary values), or an origin's
 * error without private markers, which spares a failing origin the herd. Anything else,
 * and the follower makes its own fetch.
 */
import type { CacheStatusMember } from "../../core/http/cache-status.ts";
import type { RequestLike } from "../../core/policy/index.ts";
import {
  currentAge,
  followerMayShare,
  followerMayShareError,
  forwardedMember,
  isNotModified,
  notModifiedHeaders,
  selectsFor,
  staleOnError,
} from "../../core/policy/index.ts";
import type { BodyBuffer } from "../collapse/body-buffer.ts";
import type { FillJob } from "../collapse/fill.ts";
import type { FillHead } from "../collapse/flight.ts";
import { pairsSource } from "../http/headers.ts";
import { originFailure } from "../rejection.ts";
import {
  type BodyStream,
  type ClientRequest,
  errorResponse,
  fromStored,
  relayed,
  type ShieldResponse,
} from "../respond.ts";
import type { StoredObject } from "../store/stored-object.ts";
import type { CacheDeps } from "./cache-deps.ts";
import { rangeFromFill } from "./fill-range.ts";

/** Why the request goes forward, and what it may fall back on. */
export interface Forwarding {
  readonly fwd: NonNullable<CacheStatusMember["fwd"]>;
  /** The stored entry this request found (stale, or another variant), if any. */
  readonly entry: StoredObject | undefined;
  /** The entry may be served if the origin fails (RFC 5861 §4). */
  readonly staleIfError: boolean;
  readonly detail?: string | undefined;
}

export async function serveFill(
  deps: CacheDeps,
  client: ClientRequest,
  job: FillJob,
  forwarding: Forwarding,
): Promise<ShieldResponse> {
  const joined = deps.collapser.join(job);
  if (joined === "full") return queueFull(deps, forwarding);
  const { flight, follower } = joined;
  // The reader is attached before the head arrives so that it starts at byte 0.
  const stream = client.method === "HEAD" ? null : flight.body.reader();
  const head = await flight.head;
  if (head.kind !== "response") {
    stream?.close();
    return fromSettled(deps, client, job, forwarding, head, follower);
  }
  const stale = servedStale(deps, client, forwarding, head.status);
  if (stale !== null) {
    stream?.close();
    return stale;
  }
  if (follower && !mayShare(deps, head, job.request)) {
    stream?.close();
    return ownFetch(deps, client, job, forwarding);
  }
  // Too large to store: its length and ETag let later ranges of it come from slices.
  if (!follower && head.detail === "too-large" && head.plan.store && head.status === 200) {
    deps.largeObjects?.remember(job.primary, head.headers, head.plan.meta.freshUntil);
  }
  const outcome = follower ? "collapsed" : forwarding.fwd === "stale" ? "revalidated" : "miss";
  const member = forwardedMember(deps.name, {
    fwd: forwarding.fwd,
    status: head.status,
    stored: head.storing,
    collapsed: follower,
    detail: head.detail ?? forwarding.detail,
  });
  // A follower is answered as a hit would be: with the fields stored, never the per-user
  // ones (Set-Cookie2) the origin sent its leader (RFC 9111 §3.1).
  const fields = follower && head.plan.store ? head.plan.meta.headers : head.headers;
  // A conditional client request answered from the new response (RFC 9111 §4.3.2).
  if (head.status === 200 && head.plan.store && isNotModified(client, head.headers)) {
    stream?.close();
    const headers = notModifiedHeaders(fields);
    return { ...relayed(304, headers, member, null, outcome), body: null };
  }
  const body = await wholeIfSmall(flight.body, head, stream);
  // A range request gets its part of the whole response being fetched (fill-range.ts).
  const r = rangeFromFill(client, relayed(head.status, fields, member, body, outcome));
  return head.plan.store ? { ...r, lifetime: head.plan.meta } : r;
}

/** Bodies up to this size are answered whole once the fill has them (see wholeIfSmall). */
const WHOLE_BELOW = 256 * 1024;

/**
 * A small body being stored is answered like a hit: once the fill has it all, as one
 * buffer written at once, rather than streamed chunk by chunk. A herd of followers then
 * costs one write each when the body lands, not an async stream each. Anything else (a
 * large or unknown length, a body not stored, one that failed) streams as it arrives.
 */
async function wholeIfSmall(
  buffer: BodyBuffer,
  head: Extract<FillHead, { kind: "response" }>,
  stream: BodyStream | null,
): Promise<Buffer | BodyStream | null> {
  if (stream === null || !head.storing) return stream;
  const declared = pairsSource(head.headers).get("content-length");
  if (declared === null || !(Number(declared) <= WHOLE_BELOW)) return stream;
  await buffer.settled();
  const whole = buffer.whole();
  if (whole === null) return stream;
  stream.close();
  return whole;
}

/** The fill failed, or refreshed the stored entry from a 304. */
function fromSettled(
  deps: CacheDeps,
  client: ClientRequest,
  job: FillJob,
  forwarding: Forwarding,
  head: Exclude<FillHead, { kind: "response" }>,
  follower: boolean,
): ShieldResponse | Promise<ShieldResponse> {
  if (head.kind === "error") {
    return (
      servedStale(deps, client, forwarding, null) ??
      originFailure(deps.name, forwarding.fwd, head.error, follower)
    );
  }
  if (selectsFor(head.obj.meta, job.request) !== "ok") {
    return ownFetch(deps, client, job, forwarding);
  }
  // A response another node fetched for the cluster: this request was collapsed onto
  // that node's fetch (RFC 9211 §2.5), whoever here led the wait.
  const member = head.peer
    ? forwardedMember(deps.name, {
        fwd: forwarding.fwd,
        stored: false,
        collapsed: true,
        detail: "cluster",
      })
    : forwardedMember(deps.name, {
        fwd: forwarding.fwd,
        status: 304,
        stored: head.stored,
        collapsed: follower,
      });
  const outcome = follower || head.peer ? "collapsed" : "revalidated";
  return fromStored(client, head.obj, currentAge(head.obj.meta, deps.now()), member, outcome);
}

/** The sharing rule for a response its leader's fetch is receiving. */
function mayShare(
  deps: CacheDeps,
  head: Extract<FillHead, { kind: "response" }>,
  follower: RequestLike,
): boolean {
  if (head.plan.store) return followerMayShare(head.plan, follower);
  const headers = pairsSource(head.headers);
  return followerMayShareError(head.status, headers, head.request, follower, deps.policy);
}

/** A follower that may not share the leader's response goes to the origin itself. */
function ownFetch(
  deps: CacheDeps,
  client: ClientRequest,
  job: FillJob,
  forwarding: Forwarding,
): Promise<ShieldResponse> {
  return serveFill(deps, client, { ...job, shared: false }, forwarding);
}

/**
 * The stored copy instead of an upstream failure (`status`: the status it sent; null when
 * it could not be reached), when the decision and the entry allow it (core/policy
 * stale-on-error.ts), else null.
 */
function servedStale(
  deps: CacheDeps,
  client: ClientRequest,
  forwarding: Forwarding,
  status: number | null,
): ShieldResponse | null {
  const entry = forwarding.entry;
  const stale = staleOnError({
    entry: entry?.meta,
    staleIfError: forwarding.staleIfError,
    status,
    now: deps.now(),
    cache: deps.name,
  });
  if (stale === null || entry === undefined) return null;
  return fromStored(client, entry, stale.age, stale.member, "stale_error");
}

function queueFull(deps: CacheDeps, forwarding: Forwarding): ShieldResponse {
  const member = forwardedMember(deps.name, {
    fwd: forwarding.fwd,
    stored: false,
    detail: "queue_full",
  });
  const error = {
    status: 503,
    code: "queue_full",
    message: "too many requests are waiting for this object",
  };
  return errorResponse(error, "rejected", member, ["retry-after", "1"]);
}
