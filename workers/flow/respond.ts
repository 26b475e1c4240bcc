/**
 * Client responses. Every one is built here, from the stored metadata or from the
 * upstream response, so the edge's internal metadata header can never reach a client
 * and every response carries the edge's Cache-Status member (RFC 9211), appended after
 * the shield's.
 */
import {
  appendCacheStatus,
  type CacheStatusMember,
  parseVary,
  upstreamCacheStatus,
} from "../../core/http/index.ts";
import {
  currentAge,
  type EntryMeta,
  type HeaderPairs,
  isNotModified,
  notModifiedHeaders,
  withoutHopByHop,
} from "../../core/policy/index.ts";
import { clientHintsAdvertisement } from "../../core/variant/index.ts";
import { discard, type StoredBody } from "../cache/body.ts";
import { META_HEADER } from "../cache/meta-codec.ts";
import type { EdgeRequest } from "./edge-request.ts";
import { applyRange } from "./range.ts";

/** Statuses whose responses never have a body (RFC 9110 §6.4.1). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Add fields to Vary (RFC 9110 §12.5.5), keeping what the origin listed: Accept for a
 * negotiated format, the Client Hints a width=auto or dpr=auto was resolved from
 * (RFC 8942 §2.2).
 */
function addVary(headers: Headers, names: readonly string[]): void {
  const vary = headers.get("vary");
  const listed = parseVary(vary);
  if (listed === "*") return;
  const missing = names.filter((name) => !listed.includes(name.toLowerCase()));
  if (missing.length === 0) return;
  const added = missing.join(", ");
  headers.set("vary", vary === null || vary.trim() === "" ? added : `${vary}, ${added}`);
}

const ACCEPT: readonly string[] = ["Accept"];

/**
 * Ask for Client Hints on an HTML response when images.clientHints.advertise is on
 * (core clientHintsAdvertisement), merged with any the origin asks for.
 */
function advertiseHints(er: EdgeRequest, headers: Headers): void {
  const images = er.rt.config.images;
  if (!images.clientHints.advertise) return;
  const current = { acceptCh: headers.get("accept-ch"), criticalCh: headers.get("critical-ch") };
  const advertised = clientHintsAdvertisement(headers.get("content-type"), current, images);
  if (advertised === null) return;
  headers.set("accept-ch", advertised.acceptCh);
  if (advertised.criticalCh !== null) headers.set("critical-ch", advertised.criticalCh);
}

function headersOf(pairs: HeaderPairs): Headers {
  const out = new Headers();
  for (const [n, v] of pairs) out.append(n, v);
  return out;
}

/**
 * Stored fields as a Headers object, built once per stored entry: an entry the memory
 * tier holds is served many times, and copying a Headers is one runtime call where
 * building it is one per field.
 */
const built = new WeakMap<HeaderPairs, Headers>();

function storedHeaders(pairs: HeaderPairs): Headers {
  let template = built.get(pairs);
  if (template === undefined) {
    template = headersOf(pairs);
    built.set(pairs, template);
  }
  return new Headers(template);
}

function finish(
  er: EdgeRequest,
  status: number,
  headers: Headers,
  body: StoredBody,
  statusText?: string,
): Response {
  if (er.varyAccept) addVary(headers, ACCEPT);
  if (er.varyHints.length > 0) addVary(headers, er.varyHints);
  advertiseHints(er, headers);
  let out = body;
  if (out !== null && (er.client.method === "HEAD" || NULL_BODY.has(status))) {
    discard(out);
    out = null;
  }
  // A single range of a 200 as a 206 (or 416), and a length the runtime sends (./range.ts).
  const ranged = applyRange(er, status, headers, out);
  // "manual": a coded body (br, gzip) goes out as it is; without it, the runtime would
  // encode the coded bytes a second time.
  const init: ResponseInit = { status: ranged.status, headers, encodeBody: "manual" };
  if (statusText !== undefined && ranged.status === status) init.statusText = statusText;
  return new Response(ranged.body, init);
}

/** Fields this cache sets on every response it gives: [name, value] pairs. */
type Own = readonly (readonly [string, string])[];

/**
 * The response, or a 304 when the client's own conditional GET/HEAD matches a 200 it
 * would get (RFC 9110 §13.2.2; RFC 9111 §4.3.2): the edge answers conditions itself.
 */
function respond(
  er: EdgeRequest,
  status: number,
  pairs: HeaderPairs,
  stored: boolean,
  own: Own,
  body: StoredBody,
  statusText?: string,
): Response {
  const conditional = status === 200 && isNotModified(er.client, pairs);
  const headers = conditional
    ? headersOf(notModifiedHeaders(pairs))
    : stored
      ? storedHeaders(pairs)
      : headersOf(pairs);
  for (const [n, v] of own) headers.set(n, v);
  if (conditional) {
    discard(body);
    return finish(er, 304, headers, null);
  }
  return finish(er, status, headers, body, statusText);
}

/**
 * A response served from the stored entry, aged at `at` (RFC 9111 §4.2.3, §5.1). Its
 * Cache-Status keeps the upstream members stored with the entry (already bounded and
 * cleaned when stored, store.ts withoutUnstored) before the edge's own (RFC 9211 §2), or
 * `upstream` when given.
 */
export function fromStored(
  er: EdgeRequest,
  meta: EntryMeta,
  body: StoredBody,
  member: CacheStatusMember,
  at: number,
  upstream?: string | null,
): Response {
  const members = upstream === undefined ? storedUpstream(meta.headers) : upstream;
  const own: Own = [
    ["age", String(Math.floor(currentAge(meta, at)))],
    ["cache-status", appendCacheStatus(members, member)],
  ];
  return respond(er, meta.status, meta.headers, true, own, body);
}

/** An upstream response passed on, with its body as given (possibly a tee branch). */
export function relay(
  er: EdgeRequest,
  response: Response,
  body: StoredBody,
  member: CacheStatusMember,
): Response {
  const pairs = withoutHopByHop(response.headers).filter(([n]) => n !== META_HEADER);
  // The upstream members bounded and cleaned as for a stored entry: an origin cannot
  // write the edge's member, nor make the field grow without bound.
  const upstream = upstreamCacheStatus(response.headers.get("cache-status"), member.cache);
  const own: Own = [["cache-status", appendCacheStatus(upstream, member)]];
  return respond(er, response.status, pairs, false, own, body, response.statusText);
}

/** The upstream Cache-Status members stored with an entry, if any. */
function storedUpstream(pairs: HeaderPairs): string | null {
  for (const [n, v] of pairs) if (n === "cache-status") return v;
  return null;
}
