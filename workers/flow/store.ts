/**
 * Storing an upstream response: the policy decides (core planStorage with the TTL rule
 * that matches the response), the body is split between the client and the cache, and
 * the write runs after the response with waitUntil.
 */
import type { CacheStatusMember } from "../../core/http/index.ts";
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
 * Fields kept out of the stored entry: the shield's Cache-Status describes the exchange
 * that filled this cache, not a later hit on it, and the metadata header is ours.
 */
const NOT_STORED = new Set(["cache-status", META_HEADER]);

/** The policy's plan, or the edge's own reason not to store (the body is too large). */
export type EdgePlan = StoragePlan | { readonly store: false; readonly reason: "too-large" };

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
  return { store: true, meta: withoutUnstored(plan.meta) };
}

/** The TTL rule for a response to this request (response-side criteria included). */
export function responseRule(
  er: EdgeRequest,
  status: number,
  contentType: string | null,
): RuleMatch | undefined {
  return matchResponseRule(er.rt.rules, { method: "GET", path: er.path, status, contentType });
}

export function withoutUnstored(meta: EntryMeta): EntryMeta {
  if (!meta.headers.some(([n]) => NOT_STORED.has(n))) return meta;
  return { ...meta, headers: meta.headers.filter(([n]) => !NOT_STORED.has(n)) };
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
