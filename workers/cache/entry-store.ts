/**
 * The edge's tier: the Workers Cache API, addressed by storage name, with a small
 * in-isolate memory tier in front (./isolate-cache.ts).
 *
 * Keys are synthetic URLs built from `storageName(key)`, never the client's URL: the key
 * already holds everything that selects a response (normalised query, the negotiated
 * image variant, keyed headers and cookies), and the Cache API would otherwise apply its
 * own idea of a key (and ignore Vary). The full key is stored in the metadata and
 * compared on every read, so even a hash collision cannot serve another key's response.
 */
import type { EntryMeta } from "../../core/policy/index.ts";
import { edgeEntryTags } from "../../core/purge/index.ts";
import type { StoredBody } from "./body.ts";
import type { IsolateCache } from "./isolate-cache.ts";
import { decodeMeta, encodeMeta, META_HEADER } from "./meta-codec.ts";

const CACHE_ORIGIN = "https://edge-cache.internal/";

export interface StoredEntry {
  readonly meta: EntryMeta;
  /** The stored body; a stream must be consumed or cancelled. Null for an empty body. */
  readonly body: StoredBody;
}

export type PutResult = "stored" | "too-large-metadata" | "expired";

export interface StoreOptions {
  /** The memory tier in front of the Cache API, if any. */
  readonly memory?: IsolateCache | null;
  /** Bodies longer than this are not stored; a put that reaches it is abandoned. */
  readonly maxBodyBytes?: number;
}

export class EntryStore {
  readonly #cache: Cache;
  readonly #memory: IsolateCache | null;
  readonly maxBodyBytes: number;

  constructor(cache: Cache, options: StoreOptions = {}) {
    this.#cache = cache;
    this.#memory = options.memory ?? null;
    this.maxBodyBytes = options.maxBodyBytes ?? Number.POSITIVE_INFINITY;
  }

  /** The entry under `name` if it is this key's; null on a miss. */
  async get(name: string, key: string, now: number): Promise<StoredEntry | null> {
    const held = this.#memory?.get(name, key, now);
    if (held != null) return { meta: held.meta, body: held.bytes };
    const res = await this.#cache.match(CACHE_ORIGIN + name);
    if (res === undefined) return null;
    const decoded = decodeMeta(res.headers.get(META_HEADER));
    if (decoded === null || decoded.key !== key) {
      await res.body?.cancel();
      return null;
    }
    // The Cache API need not say how long the body is; the stored headers do, and put()
    // checked the stored bytes against them.
    const length = Number(res.headers.get("content-length") ?? declaredLength(decoded.meta) ?? NaN);
    if (this.#memory !== null && res.body !== null && this.#memory.fits(length)) {
      // A small object: read it whole and keep it for the next requests in this isolate.
      const bytes = new Uint8Array(await res.arrayBuffer());
      this.#memory.set(name, key, decoded.meta, bytes, now);
      return { meta: decoded.meta, body: bytes };
    }
    return { meta: decoded.meta, body: res.body };
  }

  /**
   * Store a body with its metadata, kept by the Cache API until `meta.deleteAt` (stale
   * windows and the revalidation keep period included). Rejects when the body stream
   * errors: an upstream abort mid-body leaves nothing stored.
   *
   * `purgeUrls` are the normalised URLs whose purge must reach this entry (its own
   * first): the entry carries their purge tags in Cache-Tag beside the origin's.
   */
  async put(
    name: string,
    key: string,
    meta: EntryMeta,
    body: StoredBody,
    now: number,
    purgeUrls: readonly string[],
  ): Promise<PutResult> {
    const keepFor = Math.ceil((meta.deleteAt - now) / 1000);
    const encoded = encodeMeta(key, meta);
    const result: PutResult =
      encoded === null ? "too-large-metadata" : keepFor <= 0 ? "expired" : "stored";
    this.#memory?.delete(name);
    if (result !== "stored" || encoded === null) {
      if (body instanceof ReadableStream) await body.cancel();
      return result;
    }
    const headers = new Headers({ "cache-control": `max-age=${keepFor}`, [META_HEADER]: encoded });
    // Cloudflare's purge by tag reaches Cache API entries through this field (purge by
    // URL cannot: the URL is synthetic). It is on the stored Response only: clients get
    // responses built from the metadata (../flow/respond.ts), never this field.
    const tags = edgeEntryTags(purgeUrls, meta.tags);
    if (tags.length > 0) headers.set("cache-tag", tags.join(","));
    const url = CACHE_ORIGIN + name;
    if (!(body instanceof ReadableStream)) {
      await this.#cache.put(url, new Response(body, { status: 200, headers }));
      if (body !== null) this.#memory?.set(name, key, meta, body, now);
      return "stored";
    }
    // The Cache API may keep what it received of a body that failed half-way (Miniflare
    // does), so the edge checks the bytes itself and takes back an incomplete entry.
    const keepUpTo = this.#memory === null ? 0 : (declaredLength(meta) ?? 0);
    const watched = watchBody(
      body,
      this.#memory?.fits(keepUpTo) === true ? keepUpTo : 0,
      this.maxBodyBytes,
    );
    let putError: unknown = null;
    try {
      await this.#cache.put(url, new Response(watched.stream, { status: 200, headers }));
    } catch (error) {
      putError = error;
    }
    const { complete, bytes, kept } = await watched.result;
    const expected = declaredLength(meta);
    if (!complete || (expected !== null && bytes !== expected)) {
      await this.#cache.delete(url);
      throw new Error(
        `body incomplete (${bytes} bytes${expected === null ? "" : ` of ${expected}`})`,
      );
    }
    if (putError !== null) throw putError;
    if (kept !== null) this.#memory?.set(name, key, meta, kept, now);
    return "stored";
  }

  async delete(name: string): Promise<boolean> {
    this.#memory?.delete(name);
    return this.#cache.delete(CACHE_ORIGIN + name);
  }
}

/**
 * Pass a body through, counting its bytes and noting whether it ended or failed; keep a
 * copy of it when it is at most `keep` bytes (for the memory tier). Past `limit` bytes
 * the copy to the cache fails, so the client's branch of a tee never waits on a cache
 * branch that would buffer without bound.
 */
function watchBody(
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
function declaredLength(meta: EntryMeta): number | null {
  for (const [n, v] of meta.headers) {
    if (n === "content-length") return /^\d+$/.test(v) ? Number(v) : null;
  }
  return null;
}
