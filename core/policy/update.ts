import { formatHttpDate } from "../http/dates.ts";
import { parseETag, strongMatch } from "../http/etag.ts";
import type { EntryMeta } from "./entry.ts";
import { withoutHopByHop } from "./hop-by-hop.ts";
import { NO_CREDENTIALS } from "./sharing.ts";
import { type HeaderSource, planStorage, type StorageInput, type StoragePlan } from "./storable.ts";
import { type HeaderPairs, type HeaderReader, pairsReader } from "./types.ts";

/**
 * Does a 304 from the origin refer to this stored response (RFC 9111 §4.3.4)?
 * A strong entity tag selects the stored response with the same strong tag; a weak one,
 * the response with the same tag. A 304 carrying only Last-Modified selects a response
 * with the same Last-Modified.
 *
 * A 304 with no validator at all: §4.3.4 lets it update only a stored response without
 * validators, because in general a cache cannot tell which stored response it is about.
 * Ours always answers a conditional request this cache sent carrying one entry's own
 * validators (`revalidationHeaders`), so it can only be about that entry; many origins
 * omit validators from 304s, and treating those as "not about this entry" would turn
 * every revalidation with them into a full refetch.
 */
export function notModifiedSelects(
  entry: Pick<EntryMeta, "headers">,
  response: HeaderReader,
): boolean {
  const stored = pairsReader(entry.headers);
  const newTag = parseETag(response.get("etag"));
  const oldTag = parseETag(stored.get("etag"));
  if (newTag !== null) {
    if (oldTag === null) return false;
    if (!newTag.weak) return strongMatch(newTag, oldTag);
    return newTag.tag === oldTag.tag;
  }
  const newModified = response.get("last-modified");
  if (newModified !== null) return stored.get("last-modified") === newModified;
  return true;
}

/**
 * Fields a 304 must not change: they describe the stored body's bytes, and the 304's
 * values would be wrong for them (RFC 9111 §3.2: Content-Length is never updated, and a
 * cache keeps the fields its stored body depends on, such as a Content-Encoding it holds
 * the body in or a Content-Range it removed). A 304 that adds one the stored response
 * lacks (Content-Encoding: gzip over an identity body) is ignored just the same.
 */
const KEEP_STORED: ReadonlySet<string> = new Set([
  "content-length",
  "content-encoding",
  "content-range",
  "content-type",
  "content-digest",
  "digest",
]);

/**
 * RFC 9111 §3.2 / §4.3.4: the stored fields, each replaced by the 304's value when the
 * 304 carries it, except hop-by-hop fields and those describing the stored body.
 */
export function mergeNotModified(
  stored: HeaderPairs,
  notModified: Iterable<[string, string]>,
): HeaderPairs {
  const fresh = withoutHopByHop(notModified).filter(([name]) => !KEEP_STORED.has(name));
  const replaced = new Set(fresh.map(([name]) => name));
  return [...stored.filter(([name]) => !replaced.has(name)), ...fresh];
}

/**
 * Re-plan a stored response after a 304: merge the headers, then compute storability and
 * lifetimes anew from the new request/response times. The result may say "not stored"
 * (e.g. the 304 now says no-store): serve the stored body this once and drop the entry.
 */
export function refreshFromNotModified(
  input: Omit<StorageInput, "response"> & {
    readonly entry: EntryMeta;
    readonly notModified: HeaderSource;
  },
): StoragePlan {
  let headers = mergeNotModified(input.entry.headers, input.notModified);
  // RFC 9110 §6.6.1: a 304 without Date is dated when received; otherwise the stored
  // Date would survive the merge and the renewed entry would be born stale.
  if (input.notModified.get("date") === null) {
    headers = [
      ...headers.filter(([name]) => name !== "date"),
      ["date", formatHttpDate(input.responseTime)],
    ];
  }
  const source: HeaderSource = Object.assign(pairsReader(headers), {
    [Symbol.iterator]: () => headers[Symbol.iterator](),
  });
  return planStorage({ ...input, response: { status: input.entry.status, headers: source } });
}

/** What a 304 from upstream does to the stored entry a revalidation sent its validators for. */
export type NotModifiedResult =
  /** It is about another response (RFC 9111 §4.3.4): fetch in full, without conditionals. */
  | { readonly selects: false }
  /**
   * It renews the entry: with `plan.store`, serve the stored body under `plan.meta` and
   * keep it; without, serve the stored body this once and drop the entry (`plan.reason`
   * is the Cache-Status detail).
   */
  | { readonly selects: true; readonly plan: StoragePlan };

export interface NotModifiedInput extends Omit<StorageInput, "response" | "credentials"> {
  /** The stored entry that was revalidated. */
  readonly entry: EntryMeta;
  /** The 304's header fields. */
  readonly notModified: HeaderSource;
}

/**
 * RFC 9111 §4.3.3/§4.3.4: a 304 to this cache's own revalidation, at both tiers. When it
 * selects the entry (notModifiedSelects), the entry is re-planned from the merged fields
 * (refreshFromNotModified) with NO_CREDENTIALS: the stored body was not fetched for this
 * request, so whose cookie or Authorization revalidated it says nothing about whom it may
 * be shared with; its Vary values still select it. `rule` is the TTL rule for the stored
 * response (its status and Content-Type), `request` the request as sent upstream.
 */
export function applyNotModified(input: NotModifiedInput): NotModifiedResult {
  if (!notModifiedSelects(input.entry, input.notModified)) return { selects: false };
  return { selects: true, plan: refreshFromNotModified({ ...input, credentials: NO_CREDENTIALS }) };
}

/**
 * RFC 9111 §4.3.5: does a 200 to a HEAD this cache forwarded describe the stored GET
 * response it could have been answered from? Yes when it carries a validator, each
 * validator it carries matches the stored one exactly (ETag with its weakness,
 * Last-Modified byte for byte), and its Content-Length, when it has one, is the stored
 * one. A HEAD response without any validator cannot say which representation it is
 * about, so it does not select (nor does a Content-Length the stored response cannot be
 * checked against).
 */
export function headSelects(entry: Pick<EntryMeta, "headers">, head: HeaderReader): boolean {
  const stored = pairsReader(entry.headers);
  const etag = head.get("etag");
  const modified = head.get("last-modified");
  if (etag === null && modified === null) return false;
  if (etag !== null) {
    const a = parseETag(etag);
    const b = parseETag(stored.get("etag"));
    if (a === null || b === null || a.weak !== b.weak || a.tag !== b.tag) return false;
  }
  if (modified !== null && stored.get("last-modified") !== modified) return false;
  const length = head.get("content-length");
  if (length !== null && stored.get("content-length")?.trim() !== length.trim()) return false;
  return true;
}

export interface HeadInput extends Omit<StorageInput, "response"> {
  /** The stored GET response the HEAD could have been answered from. */
  readonly entry: EntryMeta;
  /** The HEAD response's header fields (a 200). */
  readonly head: HeaderSource;
}

/**
 * What a 200 to a forwarded HEAD does to the stored GET response (RFC 9111 §4.3.5):
 * `stale` when it is about another representation (changed validators or length: the
 * stored response must not be served without revalidation; a cache may drop it);
 * `update` with the merged fields when it is about this one (§3.2, the same merge as a
 * 304's); `keep` when it is about this one but its fields may not go into a shared entry
 * (it was fetched with credentials, set a cookie, or says private or no-store): the
 * stored response stays as it is. `credentials` are the HEAD request's own: unlike our
 * own revalidation, a HEAD forwarded for a client may carry a cookie that made its
 * answer personal.
 */
export type HeadResult =
  | { readonly kind: "stale" }
  | { readonly kind: "update"; readonly meta: EntryMeta }
  | { readonly kind: "keep" };

export function applyHeadResponse(input: HeadInput): HeadResult {
  if (!headSelects(input.entry, input.head)) return { kind: "stale" };
  const plan = refreshFromNotModified({ ...input, notModified: input.head });
  return plan.store ? { kind: "update", meta: plan.meta } : { kind: "keep" };
}
