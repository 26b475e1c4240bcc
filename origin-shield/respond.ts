/**
 * Responses the shield writes, as transport-neutral data: the Node listener writes them
 * with one writeHead, the Hono route turns them into a web Response.
 */
import { appendCacheStatus, type CacheStatusMember } from "../core/http/cache-status.ts";
import type { HeaderPairs, HeaderReader } from "../core/policy/index.ts";
import {
  forwardedMember,
  isHopByHop,
  isNotModified,
  notModifiedHeaders,
  pairsReader,
} from "../core/policy/index.ts";
import { selectRange } from "./http/range.ts";
import type { Outcome } from "./observe/metrics.ts";
import type { OriginError, OriginFailure } from "./origin/origin-error.ts";
import type { StoredObject } from "./store/stored-object.ts";
import type { Lifetimes } from "./types.ts";

export type BodyStream = AsyncIterable<Buffer> & { close(): void };

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
  const cacheStatus = appendCacheStatus(obj.upstream, member);
  const ageValue = String(Math.floor(age));
  if (req.headers.get("if-none-match") !== null || req.headers.get("if-modified-since") !== null) {
    if (meta.status === 200 && isNotModified(req, meta.headers)) {
      const headers = flatten(notModifiedHeaders(meta.headers));
      headers.push("age", ageValue, "cache-status", cacheStatus, "via", `1.1 ${member.cache}`);
      return { status: 304, headers, body: null, outcome, lifetime: meta };
    }
  }
  const headers = obj.flat.slice();
  // RFC 9110 §7.6.3: a proxy adds itself to Via on the messages it forwards.
  headers.push("age", ageValue, "cache-status", cacheStatus, "via", `1.1 ${member.cache}`);
  const range = req.headers.get("range");
  if (range !== null && meta.status === 200 && req.method === "GET") {
    const size = obj.body.length;
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
        body: obj.body.subarray(r.start, r.end + 1),
        outcome,
        lifetime: meta,
      };
    }
  }
  return {
    status: meta.status,
    headers,
    body: req.method === "HEAD" ? null : obj.body,
    outcome,
    lifetime: meta,
  };
}

/** An origin response relayed as it streams: hop-by-hop fields dropped (RFC 9110 §7.6.1). */
export function relayed(
  status: number,
  origin: HeaderPairs,
  member: CacheStatusMember,
  body: BodyStream | null,
  outcome: Outcome,
): ShieldResponse {
  const listed = new Set<string>();
  for (const [n, v] of origin) {
    if (n === "connection") for (const p of v.split(",")) listed.add(p.trim().toLowerCase());
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
  return { status, headers, body, outcome };
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
  e: ErrorBody,
  outcome: Outcome,
  member?: CacheStatusMember,
  extra: string[] = [],
): ShieldResponse {
  const json =
    e.option === undefined
      ? { error: e.code, message: e.message }
      : { error: e.code, option: e.option, message: e.message };
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
  return { status: e.status, headers, body, outcome };
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
