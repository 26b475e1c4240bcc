/**
 * Revalidation of a stale entry: in the foreground when it may no longer be served
 * (RFC 9111 §4.3), in the background within stale-while-revalidate (RFC 5861 §3; the
 * Cache API has no such thing, so the edge serves the stale copy and refreshes it with
 * waitUntil). Both send the entry's validators, so an unchanged object costs a 304.
 */
import {
  applyNotModified,
  type CacheAction,
  type EntryMeta,
  forwardedMember,
  isUpstreamFailure,
  type NotModifiedResult,
  pairsReader,
  revalidationHeaders,
  staleOnError,
  storedDetail,
} from "../../core/policy/index.ts";
import { discard } from "../cache/body.ts";
import type { StoredEntry } from "../cache/entry-store.ts";
import type { EdgeRequest } from "./edge-request.ts";
import { type CacheFetch, fetchAndStore, fetchForCache } from "./miss.ts";
import { fromStored } from "./respond.ts";
import {
  planResponse,
  responseRule,
  storeAndRelay,
  storeInBackground,
  withoutUnstored,
} from "./store.ts";
import { upstreamError } from "./upstream-error.ts";

/**
 * A 304 applied to the stored entry (core applyNotModified, RFC 9111 §4.3.4), with the
 * TTL rule for the stored response; the renewed entry without the fields the edge keeps
 * out of storage.
 */
function renew(
  er: EdgeRequest,
  meta: EntryMeta,
  fetched: CacheFetch,
  notModified: Headers,
): NotModifiedResult {
  const contentType = pairsReader(meta.headers).get("content-type");
  const result = applyNotModified({
    request: { method: "GET", headers: fetched.headers },
    entry: meta,
    notModified,
    requestTime: fetched.requestTime,
    responseTime: fetched.responseTime,
    rule: responseRule(er, meta.status, contentType)?.rule,
    options: er.rt.policy,
  });
  if (!result.selects || !result.plan.store) return result;
  return { selects: true, plan: { store: true, meta: withoutUnstored(result.plan.meta) } };
}

/** A stale entry that may not be served without asking the shield first. */
export async function revalidateNow(
  er: EdgeRequest,
  name: string,
  key: string,
  entry: StoredEntry,
  action: Extract<CacheAction, { kind: "revalidate" }>,
): Promise<Response> {
  const fwd = action.fwd;
  const fetched = await fetchForCache(er, key, action.conditional);
  const { up, responseTime } = fetched;
  // RFC 5861 §4: within stale-if-error the stored copy beats an error.
  const stale = staleOnError({
    entry: entry.meta,
    staleIfError: action.staleIfError,
    status: up.kind === "response" ? up.response.status : null,
    now: responseTime,
    cache: er.name,
  });
  if (stale !== null) {
    if (up.kind === "response") discard(up.response.body);
    return fromStored(er, entry.meta, entry.body, stale.member, responseTime);
  }
  if (up.kind === "failed") {
    discard(entry.body);
    return upstreamError(er, up, { cache: er.name, fwd });
  }
  const response = up.response;
  if (response.status === 304) {
    const result = renew(er, entry.meta, fetched, response.headers);
    if (!result.selects) {
      // About some other response: only a full fetch can answer.
      discard(entry.body);
      return fetchAndStore(er, name, key, fwd);
    }
    const plan = result.plan;
    const member = forwardedMember(er.name, {
      fwd,
      status: 304,
      stored: plan.store,
      detail: plan.store ? storedDetail(plan.meta) : plan.reason,
    });
    const upstreamStatus = response.headers.get("cache-status");
    if (!plan.store) {
      // The 304 made the entry unstorable (e.g. it now says no-store): serve it this once.
      er.exec.waitUntil(er.store.delete(name).catch(() => false));
      return fromStored(er, entry.meta, entry.body, member, responseTime, upstreamStatus);
    }
    const body = storeInBackground(er, name, key, plan.meta, entry.body, responseTime);
    return fromStored(er, plan.meta, body, member, responseTime, upstreamStatus);
  }
  discard(entry.body);
  const { headers, requestTime } = fetched;
  return storeAndRelay(er, name, key, response, headers, requestTime, responseTime, fwd);
}

/**
 * Keys being refreshed in the background by this isolate: at most one refresh per key
 * at a time, however many requests meet the stale entry meanwhile.
 */
const refreshing = new Set<string>();

/** Whether a background refresh of this storage name is under way (for tests). */
export function isRefreshing(name: string): boolean {
  return refreshing.has(name);
}

export function revalidateInBackground(
  er: EdgeRequest,
  name: string,
  key: string,
  meta: EntryMeta,
): void {
  if (refreshing.has(name)) return;
  refreshing.add(name);
  const run = refresh(er, name, key, meta)
    .catch((error: unknown) => console.warn(`edge: refreshing ${name} failed: ${String(error)}`))
    .finally(() => refreshing.delete(name));
  er.exec.waitUntil(run);
}

async function refresh(er: EdgeRequest, name: string, key: string, meta: EntryMeta): Promise<void> {
  const fetched = await fetchForCache(er, key, revalidationHeaders(meta));
  const { up, requestTime, responseTime } = fetched;
  // A failure leaves the stale copy in place; the next request tries again.
  if (up.kind === "failed") return;
  const response = up.response;
  if (isUpstreamFailure(response.status)) {
    await response.body?.cancel();
    return;
  }
  if (response.status === 304) {
    const result = renew(er, meta, fetched, response.headers);
    if (!result.selects) return;
    if (!result.plan.store) {
      await er.store.delete(name);
      return;
    }
    // The client is reading the stored body; read it again to write it back renewed,
    // unless another isolate replaced the entry meanwhile.
    const current = await er.store.get(name, key, responseTime);
    if (current === null || current.meta.responseTime !== meta.responseTime) {
      discard(current?.body ?? null);
      return;
    }
    await er.store.put(name, key, result.plan.meta, current.body, responseTime, er.purgeUrls);
    return;
  }
  const plan = planResponse(er, response, fetched.headers, requestTime, responseTime);
  if (plan.store) {
    await er.store.put(name, key, plan.meta, response.body, responseTime, er.purgeUrls);
  } else {
    await response.body?.cancel();
    await er.store.delete(name);
  }
}
