/**
 * Revalidation of a stale entry: in the foreground when it may no longer be served
 * (RFC 9111 §4.3), in the background within stale-while-revalidate (RFC 5861 §3; the
 * Cache API has no such thing, so the edge serves the stale copy and refreshes it with
 * waitUntil). Both send the entry's validators, so an unchanged object costs a 304.
 */
import { upstreamCacheStatus } from "../../core/http/index.ts";
import { storageName } from "../../core/key/index.ts";
import {
  applyHeadResponse,
  applyNotModified,
  type CacheAction,
  type EntryMeta,
  forwardedMember,
  isUpstreamFailure,
  mergeNotModified,
  type NotModifiedResult,
  pairsReader,
  revalidationHeaders,
  staleOnError,
  storedDetail,
} from "../../core/policy/index.ts";
import { discard } from "../cache/body.ts";
import type { StoredEntry } from "../cache/entry-store.ts";
import { type EdgeRequest, upstreamHeaders } from "./edge-request.ts";
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
 * out of storage. The upstream Cache-Status members stored with it become the 304's
 * (none when it carries none): they describe the exchange that last renewed the entry.
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
  const merged = result.plan.meta;
  const renewed = notModified.has("cache-status")
    ? merged
    : { ...merged, headers: merged.headers.filter(([n]) => n !== "cache-status") };
  return { selects: true, plan: { store: true, meta: withoutUnstored(renewed, er.name) } };
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
    // The members of the upstream's error answer when there was one, else those stored.
    let upstream: string | null | undefined;
    if (up.kind === "response") {
      discard(up.response.body);
      upstream = upstreamCacheStatus(up.response.headers.get("cache-status"), er.name);
    }
    return fromStored(er, entry.meta, entry.body, stale.member, responseTime, upstream);
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
    const upstream = upstreamCacheStatus(response.headers.get("cache-status"), er.name);
    if (!plan.store) {
      // The 304 made the entry unstorable (e.g. it now says no-store): serve it this once,
      // with the 304's fields (RFC 9111 §4.3.4), and drop it.
      er.exec.waitUntil(er.store.delete(name).catch(() => false));
      const merged = mergeNotModified(entry.meta.headers, response.headers);
      const served = withoutUnstored({ ...entry.meta, headers: merged }, er.name);
      return fromStored(er, served, entry.body, member, responseTime, upstream);
    }
    const body = storeInBackground(er, name, key, plan.meta, entry.body, responseTime);
    return fromStored(er, plan.meta, body, member, responseTime, upstream);
  }
  discard(entry.body);
  const { headers, requestTime } = fetched;
  return storeAndRelay(er, name, key, response, headers, requestTime, responseTime, fwd);
}

/**
 * Stored responses being refreshed in the background by this isolate: at most one
 * refresh per stored response at a time, however many requests meet it stale meanwhile.
 * A key's Vary variants are refreshed each on its own (the lock names the variant by the
 * request values it was selected by), so one variant's refresh never holds another's.
 */
const refreshing = new Set<string>();

/** The lock's name for a stored response: its storage name, and its variant's values. */
function refreshLock(name: string, meta: EntryMeta): string {
  const vary = meta.vary;
  if (vary === null || vary.fields.length === 0) return name;
  return `${name}\n${vary.fields.join(",")}\n${JSON.stringify(vary.values)}`;
}

export function revalidateInBackground(
  er: EdgeRequest,
  name: string,
  key: string,
  meta: EntryMeta,
): void {
  const lock = refreshLock(name, meta);
  if (refreshing.has(lock)) return;
  refreshing.add(lock);
  const run = refresh(er, name, key, meta)
    .catch((error: unknown) => console.warn(`edge: refreshing ${name} failed: ${String(error)}`))
    .finally(() => refreshing.delete(lock));
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

/**
 * A 200 to a HEAD the edge passed on (a bypass cookie, say) tells about the stored GET
 * response for the same key (RFC 9111 §4.3.5): the same representation renews its fields
 * (core applyHeadResponse, with the HEAD's own credentials: a personal answer never goes
 * into the shared entry); changed validators or length drop the entry, so the next
 * request fetches it again instead of serving what the shield no longer has. Runs after
 * the response (waitUntil); the HEAD's answer to its client is not changed.
 */
export function freshenFromHead(
  er: EdgeRequest,
  key: string,
  response: Response,
  requestTime: number,
): void {
  if (er.client.method !== "HEAD" || response.status !== 200) return;
  const responseTime = er.clock();
  const run = async () => {
    const name = storageName(key);
    const entry = await er.store.get(name, key, responseTime);
    if (entry === null) return;
    discard(entry.body);
    const contentType = pairsReader(entry.meta.headers).get("content-type");
    const result = applyHeadResponse({
      request: { method: "GET", headers: upstreamHeaders(er, "HEAD", false) },
      entry: entry.meta,
      head: response.headers,
      requestTime,
      responseTime,
      rule: responseRule(er, entry.meta.status, contentType)?.rule,
      options: er.rt.policy,
    });
    if (result.kind === "keep") return;
    if (result.kind === "stale") {
      await er.store.delete(name);
      return;
    }
    // Read again to write back renewed, unless another request replaced it meanwhile.
    const current = await er.store.get(name, key, responseTime);
    if (current === null || current.meta.responseTime !== entry.meta.responseTime) {
      discard(current?.body ?? null);
      return;
    }
    const meta = withoutUnstored(result.meta, er.name);
    await er.store.put(name, key, meta, current.body, responseTime, er.purgeUrls);
  };
  er.exec.waitUntil(
    run().catch((error: unknown) => console.warn(`edge: freshening from HEAD failed: ${error}`)),
  );
}
