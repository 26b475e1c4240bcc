/**
 * The stored br copy made small: once the fill has stored the copy encoded at
 * brotliLevel on the miss, the same bytes are encoded again at brotliStoredLevel in the
 * background (reencode.ts, bounded) and put in its place, under a tag that names the
 * new bytes (etag.ts), if the result is smaller and the fast copy is still the one
 * stored: a purge or a newer fill meanwhile wins.
 */
import type { CompressionConfig } from "../../core/config/index.ts";
import type { ContentCoding } from "../../core/http/accept-encoding.ts";
import { buildCacheKey } from "../../core/key/index.ts";
import type { HeaderPairs } from "../../core/policy/index.ts";
import type { CacheDeps } from "../cache/cache-deps.ts";
import { toStoredObject } from "../store/stored-object.ts";
import type { Lifetimes, RoutedRequest } from "../types.ts";
import { encodeWhole } from "./codec.ts";
import { codedEtag } from "./etag.ts";
import type { CompressionMetrics } from "./metrics.ts";
import type { ReencodeQueue } from "./reencode.ts";
import { type Coding, fieldOf } from "./treatment.ts";

/** The key variant of each coding's copy (core/key cache-key.ts). */
export const VARIANT: Readonly<Record<ContentCoding, string>> = {
  br: "content-coding=br",
  gzip: "content-coding=gzip",
  identity: "content-coding=identity",
};

export interface StoredCopyDeps {
  readonly config: CompressionConfig;
  readonly cache: CacheDeps;
  readonly metrics: CompressionMetrics;
  readonly queue: ReencodeQueue;
}

/**
 * What re-encodes a br copy at brotliStoredLevel once it is stored, or null when there is
 * nothing to do: not br, the levels are equal, the copy has no tag (without one, two
 * different byte sequences would share its Last-Modified), or it is not stored.
 */
export function reencoder(
  deps: StoredCopyDeps,
  view: RoutedRequest,
  coding: Coding,
  fastTag: string | undefined,
  sourceTag: string | undefined,
  lifetimes: Lifetimes | null,
): ((input: Buffer) => void) | null {
  const level = deps.config.brotliStoredLevel;
  if (coding !== "br" || level <= deps.config.brotliLevel || lifetimes === null) return null;
  const storedTag = codedEtag(sourceTag, "br", level);
  if (fastTag === undefined || storedTag === undefined) return null;
  return (input) => {
    // After the fill has committed the fast copy (it does so as its body ends).
    setImmediate(() => {
      const taken = deps.queue.offer({
        bytes: input.length,
        run: () => reencode(deps, view, input, fastTag, storedTag),
      });
      if (!taken) deps.metrics.events.labels("br", "reencode_dropped").inc();
    });
  };
}

/** Encode at the stored level, and put it in place of the fast copy if that is still stored. */
async function reencode(
  deps: StoredCopyDeps,
  view: RoutedRequest,
  input: Buffer,
  fastTag: string,
  storedTag: string,
): Promise<void> {
  const level = deps.config.brotliStoredLevel;
  const out = await encodeWhole("br", level, input);
  const { tier, key } = deps.cache;
  const reader = view.reader;
  const primary = buildCacheKey({ url: view.url, headers: reader, method: "GET" }, key, VARIANT.br);
  const found = await tier.lookup(primary, reader);
  const skipped = () => deps.metrics.events.labels("br", "reencode_skipped").inc();
  if (found === undefined || found.streamed !== undefined) return skipped();
  if (fieldOf(found.flat, "etag") !== fastTag || out.length >= found.body.length) return skipped();
  // Still the very copy the fill stored (not purged, not replaced by a newer fill).
  if (tier.peek(tier.keyOf(found, reader)) !== found) return skipped();
  const headers: HeaderPairs = found.meta.headers.filter(
    ([name]) => name !== "etag" && name !== "content-length",
  );
  headers.push(["etag", storedTag], ["content-length", String(out.length)]);
  tier.put(toStoredObject({ ...found.meta, headers }, out, found), reader);
  deps.metrics.events.labels("br", "reencoded").inc();
  deps.metrics.bytes.labels("br", "out").inc(out.length);
}
