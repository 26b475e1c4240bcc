/**
 * Storing an upstream response: the policy decides (core planStorage with the TTL rule
 * that matches the response), the body is split between the client and the cache, and
 * the write runs after the response with waitUntil.
 */
import { type CacheStatusMember, upstreamCacheStatus } from "../../core/http/index.ts";
import {
  type EntryMeta,
  forwardedMember,
  type HeaderReader,
  planStorage,
  type StoragePlan,
  storedDetail,
} from "../../core/policy/index.ts";
import { matchResponseRule, type RuleMatch } from "../../core/rules/index.ts";
import { type StoredBody, split } from "../cache/body.ts";
import { META_HEADER } from "../cache/meta-codec.ts";
import type { EdgeRequest } from "./edge-request.ts";
import { relay } from "./respond.ts";

/**
 * Fields not stored as received: the metadata header is ours, and the upstream caches'
 * Cache-Status is kept only bounded and cleaned (core upstreamCacheStatus), so that every
 * answer from the entry can put those members before the edge's own (RFC 9211 §2).
 */
const NOT_STORED = new Set(["cache-status", META_HEADER]);

/**
 * The policy's plan, or the edge's own reason not to store: the body is too large, is a
 * part (Content-Range) rather than the whole, or is in a coding the edge did not ask for.
 */
export type EdgePlan =
  | StoragePlan
  | { readonly store: false; readonly reason: "too-large" | "partial" | "coding-mismatch" };

export function planResponse(
  er: EdgeRequest,
  response: { readonly status: number; readonly headers: Headers },
  forwarded: HeaderReader,
  requestTime: number,
  responseTime: number,
): EdgePlan {
  const rule = responseRule(er, response.status, response.headers.get("content-type"));
  // Policy sees the request as forwarded: a HEAD miss was fetched as a GET, and Vary is
  // matched against the Accept and Accept-Encoding the shield actually received.
  const plan = planStorage({
    request: { method: "GET", headers: forwarded },
    response,
    requestTime,
    responseTime,
    rule: rule?.rule,
    options: er.rt.policy,
  });
  if (!plan.store) return plan;
  // A body announced longer than the edge stores streams through unstored.
  const length = Number(response.headers.get("content-length") ?? 0);
  if (length > er.store.maxBodyBytes) return { store: false, reason: "too-large" };
  // Only a whole body is stored as the object: a 200 that says it is a part is not
  // (the edge never asks for a range; RFC 9110 §14.4).
  if (response.headers.has("content-range")) return { store: false, reason: "partial" };
  const coding = contentCoding(response.headers);
  // Stored under the coding the edge asked for, so a body in another coding would reach
  // clients that cannot decode it.
  if (coding !== "identity" && coding !== er.acceptEncoding) {
    return { store: false, reason: "coding-mismatch" };
  }
  const meta = withoutUnstored(plan.meta, er.name);
  return { store: true, meta: coding === "identity" ? meta : varyingOnCoding(meta, coding) };
}

/** The response's Content-Encoding, lowercase; "identity" when it has none. */
function contentCoding(headers: Headers): string {
  const value = headers.get("content-encoding")?.trim().toLowerCase();
  return value === undefined || value === "" ? "identity" : value;
}

/**
 * A coded response selected by Accept-Encoding even when the origin's Vary forgot to
 * say so (RFC 9110 §12.5.3): its capture gains the field, with the coding asked for,
 * and so does the Vary the clients are sent.
 */
function varyingOnCoding(meta: EntryMeta, coding: string): EntryMeta {
  const vary = meta.vary;
  if (vary?.fields.includes("accept-encoding")) return meta;
  const pairs = [
    ...(vary?.fields ?? []).map((f, i) => [f, i] as const),
    ["accept-encoding", -1] as const,
  ];
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const pick = (list: readonly (string | null)[] | undefined, i: number) =>
    i < 0 ? coding : (list?.[i] ?? null);
  const headers = meta.headers.filter(([n]) => n !== "vary");
  const listed = meta.headers.filter(([n]) => n === "vary").map(([, v]) => v);
  headers.push(["vary", [...listed, "Accept-Encoding"].join(", ")]);
  return {
    ...meta,
    headers,
    vary: {
      fields: pairs.map(([f]) => f),
      values: pairs.map(([, i]) => pick(vary?.values, i)),
      raw: pairs.map(([, i]) => pick(vary?.raw, i)),
    },
  };
}

/** The TTL rule for a response to this request (response-side criteria included). */
export function responseRule(
  er: EdgeRequest,
  status: number,
  contentType: string | null,
): RuleMatch | undefined {
  return matchResponseRule(er.rt.rules, { method: "GET", path: er.path, status, contentType });
}

/** `meta` as the edge stores it; `cache` is the edge's own Cache-Status name. */
export function withoutUnstored(meta: EntryMeta, cache: string): EntryMeta {
  if (!meta.headers.some(([n]) => NOT_STORED.has(n))) return meta;
  const upstream = meta.headers.filter(([n]) => n === "cache-status").map(([, v]) => v);
  const headers = meta.headers.filter(([n]) => !NOT_STORED.has(n));
  const members = upstreamCacheStatus(upstream.join(", "), cache);
  if (members !== null) headers.push(["cache-status", members]);
  return { ...meta, headers };
}

/**
 * Split `body` and write one branch to the cache in the background; returns the branch
 * for the client. A body that errors half-way makes the write fail, so a truncated
 * response is never stored.
 */
export function storeInBackground(
  er: EdgeRequest,
  name: string,
  key: string,
  meta: EntryMeta,
  body: StoredBody,
  now: number,
): StoredBody {
  const [toClient, toCache] = split(body);
  er.exec.waitUntil(
    er.store.put(name, key, meta, toCache, now, er.purgeUrls).catch((error: unknown) => {
      console.warn(`edge: storing ${name} failed: ${String(error)}`);
    }),
  );
  return toClient;
}

/** Store an upstream response per policy (in the background) and pass it on. */
export function storeAndRelay(
  er: EdgeRequest,
  name: string,
  key: string,
  response: Response,
  forwarded: HeaderReader,
  requestTime: number,
  responseTime: number,
  fwd: NonNullable<CacheStatusMember["fwd"]>,
): Response {
  const plan = planResponse(er, response, forwarded, requestTime, responseTime);
  let body: StoredBody = response.body;
  if (plan.store) body = storeInBackground(er, name, key, plan.meta, body, responseTime);
  const member = forwardedMember(er.name, {
    fwd,
    status: response.status,
    stored: plan.store,
    detail: plan.store ? storedDetail(plan.meta) : plan.reason,
  });
  return relay(er, response, body, member);
}
