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

/** Fields a 304 must not change: they describe the stored body (RFC 9111 §3.2). */
const KEEP_STORED: ReadonlySet<string> = new Set([
  "content-length",
  "content-encoding",
  "content-range",
  "content-type",
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
