/**
 * A Response as handed to the Cache API: the fields it is stored with (how long to keep
 * it, the metadata, purge tags), the length its metadata keeps, and the body counted on
 * its way in, so that an incomplete or oversized one is never taken for a whole object.
 */
import type { EntryMeta } from "../../core/policy/index.ts";
import { edgeEntryTags } from "../../core/purge/index.ts";
import { META_HEADER } from "./meta-codec.ts";

/**
 * The fields of a Response handed to the Cache API: how long to keep it, the metadata,
 * and the purge tags. Cloudflare's purge by tag reaches Cache API entries through
 * Cache-Tag (purge by URL cannot: the URL is synthetic). It is on the stored Response
 * only: clients get responses built from the metadata (../flow/respond.ts), never this
 * field.
 */
export function storedFields(
  keepFor: number,
  encoded: string,
  purgeUrls: readonly string[],
  meta: EntryMeta,
): Headers {
  const headers = new Headers({ "cache-control": `max-age=${keepFor}`, [META_HEADER]: encoded });
  const tags = edgeEntryTags(purgeUrls, meta.tags);
  if (tags.length > 0) headers.set("cache-tag", tags.join(","));
  return headers;
}

/** Statuses whose responses never have a body, nor a Content-Length (RFC 9110 §8.6). */
const NO_LENGTH = new Set([204, 205, 304]);

export function withLength(meta: EntryMeta, length: number): EntryMeta {
  if (NO_LENGTH.has(meta.status)) return meta;
  return { ...meta, headers: [...meta.headers, ["content-length", String(length)]] };
}

/**
 * Pass a body through, counting its bytes and noting whether it ended or failed; keep a
 * copy of it when it is at most `keep` bytes (for the memory tier). Past `limit` bytes
 * the copy to the cache fails, so the client's branch of a tee never waits on a cache
 * branch that would buffer without bound.
 */
export function watchBody(
  body: ReadableStream,
  keep: number,
  limit: number,
): {
  stream: ReadableStream;
  result: Promise<{ complete: boolean; bytes: number; kept: Uint8Array | null }>;
} {
  let bytes = 0;
  let chunks: Uint8Array[] | null = keep > 0 ? [] : null;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      bytes += chunk.byteLength;
      if (bytes > limit) {
        controller.error(new Error(`body larger than ${limit} bytes`));
        return;
      }
      if (chunks !== null) {
        if (bytes <= keep) chunks.push(chunk.slice());
        else chunks = null;
      }
      controller.enqueue(chunk);
    },
  });
  const result = body.pipeTo(counter.writable).then(
    () => ({ complete: true, bytes, kept: chunks === null ? null : concat(chunks, bytes) }),
    () => ({ complete: false, bytes, kept: null }),
  );
  return { stream: counter.readable, result };
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The Content-Length the stored headers declare (the bytes as sent: encodings kept). */
export function declaredLength(meta: EntryMeta): number | null {
  for (const [n, v] of meta.headers) {
    if (n === "content-length") return /^\d+$/.test(v) ? Number(v) : null;
  }
  return null;
}
