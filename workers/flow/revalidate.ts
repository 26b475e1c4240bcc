/**
 * Revalidation of a stale entry: in the foreground when it may no longer be served
 * (RFC 9111 §4.3), in the background within stale-while-revalidate (RFC 5861 §3; the
 * Cache API has no such thing, so the edge serves the stale copy and refreshes it with
 * waitUntil). Both send the entry's validators, so an unchanged object costs a 304.
 */
import type { Decision, EntryMeta, HeaderPairs } from "../../core/policy/index.ts";
import {
  forwardedMember,
  forwardReason,
  mayServeStaleOnError,
  NO_CREDENTIALS,
  notModifiedSelects,
  refreshFromNotModified,
  revalidationHeaders,
  type StoragePlan,
  staleOnErrorMember,
} from "../../core/policy/index.ts";
import { discard } from "../cache/body.ts";
import type { StoredEntry } from "../cache/entry-store.ts";
import type { EdgeRequest } from "./edge-request.ts";
import { type CacheFetch, fetchAndStore, fetchForCache } from "./miss.ts";
import { fromEntry } from "./respond.ts";
import {
  planResponse,
  responseRule,
  storeAndRelay,
  storeInBackground,
  withoutUnstored,
} from "./store.ts";
import { upstreamError } from "./upstream-error.ts";

/** The stored entry renewed by a 304 (RFC 9111 §4.3.4), with the rule that applies to it. */
function renew(er: EdgeRequest, meta: EntryMeta, c: CacheFetch, notModified: Headers): StoragePlan {
  const stored = { get: (n: string) => pairValue(meta.headers, n) };
  const plan = refreshFromNotModified({
    request: { method: "GET", headers: c.headers },
    // The stored body was not fetched for this request: its cookie says nothing about
    // whom that body may be shared with (its Vary values still select it).
    credentials: NO_CREDENTIALS,
    entry: meta,
    notModified,
    requestTime: c.requestTime,
    responseTime: c.responseTime,
    rule: responseRule(er, meta.status, stored.get("content-type"))?.rule,
    options: er.rt.policy,
  });
  return plan.store ? { store: true, meta: withoutUnstored(plan.meta) } : plan;
}

function pairValue(pairs: HeaderPairs, name: string): string | null {
  for (const [n, v] of pairs) if (n === name) return v;
  return null;
}

/** A stale entry that may not be served without asking the shield first. */
export async function revalidateNow(
  er: EdgeRequest,
  name: string,
  key: string,
  entry: StoredEntry,
  decision: Extract<Decision, { kind: "revalidate" }>,
): Promise<Response> {
  const fwd = forwardReason(decision) ?? "stale";
  const c = await fetchForCache(er, key, decision.conditional);
  const { up } = c;
  const failedStatus =
    up.kind === "response" && up.response.status >= 500 ? up.response.status : undefined;
  if (up.kind === "failed" || failedStatus !== undefined) {
    // RFC 5861 §4: within stale-if-error the stored copy beats an error.
    if (decision.staleIfError && mayServeStaleOnError(entry.meta, c.responseTime)) {
      if (up.kind === "response") discard(up.response.body);
      const ttl = (entry.meta.freshUntil - c.responseTime) / 1000;
      const member = staleOnErrorMember(er.name, ttl, failedStatus);
      return fromEntry(er, entry.meta, entry.body, member, c.responseTime);
    }
    discard(entry.body);
    if (up.kind === "failed") return upstreamError(er, up, { cache: er.name, fwd });
    return storeAndRelay(er, name, key, up.response, c.headers, c.requestTime, c.responseTime, fwd);
  }
  const response = up.response;
  if (response.status === 304) {
    if (!notModifiedSelects(entry.meta, response.headers)) {
      // About some other response: only a full fetch can answer.
      discard(entry.body);
      return fetchAndStore(er, name, key, fwd);
    }
    const plan = renew(er, entry.meta, c, response.headers);
    const member = forwardedMember(er.name, {
      fwd,
      status: 304,
      stored: plan.store,
      detail: plan.store ? undefined : plan.reason,
    });
    const upstreamStatus = response.headers.get("cache-status");
    if (!plan.store) {
      // The 304 made the entry unstorable (e.g. it now says no-store): serve it this once.
      er.exec.waitUntil(er.store.delete(name).catch(() => false));
      return fromEntry(er, entry.meta, entry.body, member, c.responseTime, upstreamStatus);
    }
    const body = storeInBackground(er, name, key, plan.meta, entry.body, c.responseTime);
    return fromEntry(er, plan.meta, body, member, c.responseTime, upstreamStatus);
  }
  discard(entry.body);
  return storeAndRelay(er, name, key, response, c.headers, c.requestTime, c.responseTime, fwd);
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

export function refreshInBackground(
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
  const c = await fetchForCache(er, key, revalidationHeaders(meta));
  if (c.up.kind === "failed") return; // the stale copy stays; the next request tries again
  const response = c.up.response;
  if (response.status >= 500) {
    await response.body?.cancel();
    return;
  }
  if (response.status === 304) {
    if (!notModifiedSelects(meta, response.headers)) return;
    const plan = renew(er, meta, c, response.headers);
    if (!plan.store) {
      await er.store.delete(name);
      return;
    }
    // The client is reading the stored body; read it again to write it back renewed,
    // unless another isolate replaced the entry meanwhile.
    const current = await er.store.get(name, key, c.responseTime);
    if (current === null || current.meta.responseTime !== meta.responseTime) {
      discard(current?.body ?? null);
      return;
    }
    await er.store.put(name, key, plan.meta, current.body, c.responseTime);
    return;
  }
  const plan = planResponse(er, response, c.headers, c.requestTime, c.responseTime);
  if (plan.store) {
    await er.store.put(name, key, plan.meta, response.body, c.responseTime);
  } else {
    await response.body?.cancel();
    await er.store.delete(name);
  }
}
