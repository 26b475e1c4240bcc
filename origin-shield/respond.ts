/**
 * Responses the shield writes, as transport-neutral data: the Node listener writes them
 * with one writeHead, the Hono route turns them into a web Response.
 */
import { appendCacheStatus, type CacheStatusMember } from "../core/http/cache-status.ts";
import type { HeaderPairs, HeaderReader } from "../core/policy/index.ts";
import {
  connectionTokens,
  forwardedMember,
  isHopByHop,
  isNotModified,
  notModifiedHeaders,
  pairsReader,
} from "../core/policy/index.ts";
import { selectRange } from "./http/range.ts";
import type { Outcome } from "./observe/metrics.ts";
import type { OriginError, OriginFailure } from "./origin/origin-error.ts";
import { bodySize, HeldBody, type StoredObject } from "./store/stored-object.ts";
import type { BodyStream, Lifetimes } from "./types.ts";

export type { BodyStream };

export interface ShieldResponse {
  readonly status: number;
  /** Flat [name, value, …], lowercase names. */
  readonly headers: string[];
  readonly body: Buffer | BodyStream | null;
  readonly outcome: Outcome;
  /**
   * The lifetimes of the stored entry this answer is (or is being stored as); absent
   * when nothing is stored. An image variant made from it follows them (image/produce.ts).
   */
  readonly lifetime?: Lifetimes | undefined;
}

export interface ClientRequest {
  readonly method: string;
  readonly headers: HeaderReader;
}

/**
 * A stored response for this client: 304 to a conditional it satisfies (RFC 9111
 * §4.3.2), 206 for a single satisfiable range, headers only for HEAD, else the whole.
 */
export function fromStored(
  req: ClientRequest,
  obj: StoredObject,
  age: number,
  member: CacheStatusMember,
  outcome: Outcome,
): ShieldResponse {
  const meta = obj.meta;
  const t = tail(obj, Math.floor(age), member);
  // RFC 9111 §4.3.2 (isNotModified reads nothing stored unless the request is conditional).
  if (meta.status === 200 && isNotModified(req, meta.headers)) {
    const headers = flatten(notModifiedHeaders(meta.headers));
    headers.push("age", t.ageValue, "cache-status", t.cacheStatus, "via", t.via);
    return { status: 304, headers, body: null, outcome, lifetime: meta };
  }
  // Each answer gets its own copy: a route may add a field to it (image/route.ts).
  const headers = t.headers.slice();
  const range = req.headers.get("range");
  if (range !== null && meta.status === 200 && req.method === "GET") {
    const size = bodySize(obj);
    const r = selectRange(range, req.headers.get("if-range"), size, pairsReader(meta.headers));
    if (r.kind === "unsatisfiable") {
      return {
        status: 416,
        headers: replace(headers, "content-length", "0").concat("content-range", `bytes */${size}`),
        body: null,
        outcome,
        lifetime: meta,
      };
    }
    if (r.kind === "partial") {
      const h = replace(headers, "content-length", String(r.end - r.start + 1));
      h.push("content-range", `bytes ${r.start}-${r.end}/${size}`);
      return {
        status: 206,
        headers: h,
        body: partOf(obj, r.start, r.end),
        outcome,
        lifetime: meta,
      };
    }
  }
  return {
    status: meta.status,
    headers,
    body: req.method === "HEAD" ? null : wholeBody(obj),
    outcome,
    lifetime: meta,
  };
}

/**
 * The stored body: the buffer held in memory, or the stream of a body read from disk as
 * it is sent. A body the tier has already read whole (HeldBody) goes as its buffer: one
 * write, as for a memory hit, rather than a stream of one chunk.
 */
function wholeBody(obj: StoredObject): Buffer | BodyStream {
  const streamed = obj.streamed;
  if (streamed === undefined) return obj.body;
  if (streamed instanceof HeldBody) return streamed.bytes;
  if (streamed.size === 0) return Buffer.alloc(0);
  return streamed.open(0, streamed.size - 1);
}

/** Bytes `start`..`end` inclusive of the stored body, held or streamed as wholeBody. */
function partOf(obj: StoredObject, start: number, end: number): Buffer | BodyStream {
  const streamed = obj.streamed;
  if (streamed === undefined) return obj.body.subarray(start, end + 1);
  if (streamed instanceof HeldBody) return streamed.part(start, end);
  return streamed.open(start, end);
}

/**
 * What every answer from a stored object ends with: Age, Cache-Status (ours appended to
 * the upstream caches'), Via (RFC 9110 §7.6.3: a proxy adds itself to the messages it
 * forwards). Within one second every hit on an object writes the same values, so the
 * whole field list is kept for the last age and member seen, per object, rather than
 * formatting the Cache-Status member (a structured field) and rebuilding the list on
 * every hit (fromStored in a loop: 0.12 µs a hit before, 0.08 µs after). Keyed by the
 * object's own field list, which is one array per stored object and, unlike the
 * object, does not hold its body (an evicted object's list stays here until pushed out:
 * a few MiB at most); at most MAX_TAILS objects, the oldest forgotten first.
 */
interface Tail {
  readonly upstream: string | null;
  readonly age: number;
  readonly member: CacheStatusMember;
  readonly ageValue: string;
  readonly cacheStatus: string;
  readonly via: string;
  /** The stored fields, then age, cache-status and via. */
  readonly headers: readonly string[];
}

const MAX_TAILS = 4_096;
const tails = new Map<readonly string[], Tail>();

function tail(obj: StoredObject, age: number, member: CacheStatusMember): Tail {
  const known = tails.get(obj.flat);
  if (
    known !== undefined &&
    known.age === age &&
    known.upstream === obj.upstream &&
    sameMember(known.member, member)
  ) {
    return known;
  }
  const ageValue = String(age);
  const cacheStatus = appendCacheStatus(obj.upstream, member);
  const via = `1.1 ${member.cache}`;
  const headers = obj.flat.concat("age", ageValue, "cache-status", cacheStatus, "via", via);
  const t: Tail = {
    upstream: obj.upstream,
    age,
    member: copyMember(member),
    ageValue,
    cacheStatus,
    via,
    headers,
  };
  if (known === undefined && tails.size >= MAX_TAILS) {
    tails.delete(tails.keys().next().value as readonly string[]);
  }
  tails.set(obj.flat, t);
  return t;
}

/**
 * A copy of every field of a member: the type check fails here when CacheStatusMember
 * gains a field, which sameMember must then compare too.
 */
function copyMember(
  m: CacheStatusMember,
): Record<keyof CacheStatusMember, unknown> & CacheStatusMember {
  return {
    cache: m.cache,
    hit: m.hit,
    ttl: m.ttl,
    fwd: m.fwd,
    fwdStatus: m.fwdStatus,
    stored: m.stored,
    collapsed: m.collapsed,
    key: m.key,
    detail: m.detail,
  };
}

function sameMember(a: CacheStatusMember, b: CacheStatusMember): boolean {
  return (
    a.cache === b.cache &&
    a.hit === b.hit &&
    a.ttl === b.ttl &&
    a.fwd === b.fwd &&
    a.fwdStatus === b.fwdStatus &&
    a.stored === b.stored &&
    a.collapsed === b.collapsed &&
    a.key === b.key &&
    a.detail === b.detail
  );
}

/**
 * An origin response relayed as it streams: hop-by-hop fields dropped (RFC 9110 §7.6.1).
 * The requests collapsed on one fill are all answered from its one head: the field list
 * made for the last of them is kept (by the head's own field list and the member) and
 * copied for the next, instead of filtering the origin's fields and formatting a
 * Cache-Status member a thousand times over when a herd is released.
 */
export function relayed(
  status: number,
  origin: HeaderPairs,
  member: CacheStatusMember,
  body: Buffer | BodyStream | null,
  outcome: Outcome,
): ShieldResponse {
  const known = relays.get(origin);
  if (known !== undefined && sameMember(known.member, member)) {
    return { status, headers: known.headers.slice(), body, outcome };
  }
  const headers = relayedFields(origin, member);
  if (known === undefined && relays.size >= MAX_RELAYS) {
    relays.delete(relays.keys().next().value as HeaderPairs);
  }
  relays.set(origin, { member: copyMember(member), headers });
  return { status, headers: headers.slice(), body, outcome };
}

/** Heads relayed lately (a fill's head is one array shared by all its readers). */
const MAX_RELAYS = 256;
const relays = new Map<HeaderPairs, { member: CacheStatusMember; headers: readonly string[] }>();

function relayedFields(origin: HeaderPairs, member: CacheStatusMember): string[] {
  const listed = new Set<string>();
  for (const [n, v] of origin) {
    if (n === "connection") for (const token of connectionTokens(v)) listed.add(token);
  }
  const headers: string[] = [];
  let upstream: string | null = null;
  for (const [n, v] of origin) {
    if (isHopByHop(n) || listed.has(n)) continue;
    if (n === "cache-status") {
      upstream = upstream === null ? v : `${upstream}, ${v}`;
      continue;
    }
    headers.push(n, v);
  }
  headers.push("cache-status", appendCacheStatus(upstream, member), "via", `1.1 ${member.cache}`);
  return headers;
}

export interface ErrorBody {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** The request option at fault (image transforms). */
  readonly option?: string | undefined;
}

/** A client-facing error with a stable code, as JSON: errors render themselves. */
export function errorResponse(
  error: ErrorBody,
  outcome: Outcome,
  member?: CacheStatusMember,
  extra: string[] = [],
): ShieldResponse {
  const json =
    error.option === undefined
      ? { error: error.code, message: error.message }
      : { error: error.code, option: error.option, message: error.message };
  const body = Buffer.from(`${JSON.stringify(json)}\n`);
  const headers = [
    "content-type",
    "application/json; charset=utf-8",
    "content-length",
    String(body.length),
    "cache-control",
    "no-store",
    ...extra,
  ];
  if (member !== undefined) headers.push("cache-status", appendCacheStatus(null, member));
  return { status: error.status, headers, body, outcome };
}

/** What a client is told for each kind of origin failure: code and message. */
const ORIGIN_FAILURES: Readonly<Record<OriginFailure, readonly [string, string]>> = {
  timeout: ["origin_timeout", "the origin did not answer in time"],
  connect: ["origin_unreachable", "the origin could not be reached"],
  reset: ["origin_unreachable", "the origin could not be reached"],
  "too-large": ["origin_unreachable", "the origin could not be reached"],
  aborted: ["origin_unreachable", "the origin could not be reached"],
  busy: ["origin_busy", "every connection to the origin is busy; try again shortly"],
  invalid: ["bad_origin_response", "the origin's response cannot be relayed"],
  internal: ["internal_error", "the shield failed to handle this request"],
};

/**
 * The origin could not answer (RFC 9110 §15.6.3 502, §15.6.4 503 when every connection
 * to it is busy, §15.6.5 504); nothing stored. The member's detail names the failure.
 */
export function originErrorResponse(
  cache: string,
  fwd: NonNullable<CacheStatusMember["fwd"]>,
  error: OriginError,
  collapsed: boolean,
): ShieldResponse {
  const member = forwardedMember(cache, {
    fwd,
    stored: false,
    collapsed,
    detail: `origin-${error.kind}`,
  });
  const [code, message] = ORIGIN_FAILURES[error.kind];
  const extra = error.kind === "busy" ? ["retry-after", "1"] : [];
  return errorResponse({ status: error.status, code, message }, "error", member, extra);
}

function flatten(pairs: HeaderPairs): string[] {
  const out: string[] = [];
  for (const [n, v] of pairs) if (n !== "cache-status") out.push(n, v);
  return out;
}

function replace(flat: string[], name: string, value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] !== name) out.push(flat[i] as string, flat[i + 1] as string);
  }
  out.push(name, value);
  return out;
}
