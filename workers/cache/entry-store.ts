/**
 * The edge's tier: the Workers Cache API, addressed by storage name, with a small
 * in-isolate memory tier in front (./isolate-cache.ts).
 *
 * Keys are synthetic URLs built from `storageName(key)`, never the client's URL: the key
 * already holds everything that selects a response (normalised query, the negotiated
 * image variant, keyed headers and cookies), and the Cache API would otherwise apply its
 * own idea of a key (and ignore Vary). The full key is stored in the metadata and
 * compared on every read, so even a hash collision cannot serve another key's response.
 *
 * A response that varies is stored as one of several variants of its key
 * (./vary-record.ts): the key's name then holds a vary record, and each variant a slot
 * whose full variant key is compared on read in the same way.
 *
 * The stored Response never carries the origin's Content-Encoding: the Cache API may
 * decode a body stored with one (Miniflare hands back a brotli body decoded, with the
 * field still saying br), so the bytes are stored as an opaque 200 and come back exactly
 * as they went in, the coding recorded in the metadata only.
 */

import { storageName } from "../../core/key/index.ts";
import type { EntryMeta, HeaderReader } from "../../core/policy/index.ts";
import { discard, type StoredBody } from "./body.ts";
import type { IsolateCache } from "./isolate-cache.ts";
import {
  decodeMeta,
  decodeStored,
  encodeMeta,
  encodeVaryRecord,
  META_HEADER,
} from "./meta-codec.ts";
import { declaredLength, storedFields, watchBody, withLength } from "./stored-response.ts";
import {
  placeVariant,
  requestVariantKey,
  slotName,
  slotOf,
  type VaryRecord,
  variantKey,
} from "./vary-record.ts";

const CACHE_ORIGIN = "https://edge-cache.internal/";

export interface StoredEntry {
  readonly meta: EntryMeta;
  /** The stored body; a stream must be consumed or cancelled. Null for an empty body. */
  readonly body: StoredBody;
}

/** A lookup: the entry, and whether the key had variants but none this request selects. */
export interface Lookup {
  readonly entry: StoredEntry | null;
  readonly varyMiss: boolean;
}

export type PutResult = "stored" | "too-large-metadata" | "expired";

export interface StoreOptions {
  /** The memory tier in front of the Cache API, if any. */
  readonly memory?: IsolateCache | null;
  /** Bodies longer than this are not stored; a put that reaches it is abandoned. */
  readonly maxBodyBytes?: number;
}

type Found = { kind: "entry"; entry: StoredEntry } | { kind: "vary"; record: VaryRecord };

const MISS: Lookup = { entry: null, varyMiss: false };
const VARY_MISS: Lookup = { entry: null, varyMiss: true };

export class EntryStore {
  readonly #cache: Cache;
  readonly #memory: IsolateCache | null;
  readonly maxBodyBytes: number;

  constructor(cache: Cache, options: StoreOptions = {}) {
    this.#cache = cache;
    this.#memory = options.memory ?? null;
    this.maxBodyBytes = options.maxBodyBytes ?? Number.POSITIVE_INFINITY;
  }

  /**
   * The response stored under `name` for this key that `request` selects: the entry
   * itself, or, when the key's responses vary, the variant for the request's values.
   * Without a request, a key with variants is a miss.
   */
  async lookup(
    name: string,
    key: string,
    request: HeaderReader | null,
    now: number,
  ): Promise<Lookup> {
    const found = await this.#read(name, key, now, true);
    if (found === null) return MISS;
    if (found.kind === "entry") return { entry: found.entry, varyMiss: false };
    if (request === null) return MISS;
    const vk = requestVariantKey(key, found.record.fields, request);
    const slot = slotOf(found.record, storageName(vk));
    if (slot === null) return VARY_MISS;
    const variant = await this.#read(slotName(name, slot), vk, now, true);
    if (variant?.kind !== "entry") return VARY_MISS;
    return { entry: variant.entry, varyMiss: false };
  }

  /** The entry `request` selects under `name` for this key; null on a miss. */
  async get(
    name: string,
    key: string,
    now: number,
    request: HeaderReader | null = null,
  ): Promise<StoredEntry | null> {
    return (await this.lookup(name, key, request, now)).entry;
  }

  /** What `name` holds for this key: an entry (its body to consume) or a vary record. */
  async #read(name: string, key: string, now: number, useMemory: boolean): Promise<Found | null> {
    if (useMemory && this.#memory !== null) {
      const held = this.#memory.get(name, key, now);
      if (held !== null) return { kind: "entry", entry: { meta: held.meta, body: held.bytes } };
      const record = this.#memory.getRecord(name, key, now);
      if (record !== null) return { kind: "vary", record };
    }
    const res = await this.#cache.match(CACHE_ORIGIN + name);
    if (res === undefined) return null;
    const decoded = decodeStored(res.headers.get(META_HEADER));
    if (decoded === null || decoded.key !== key || decoded.kind === "vary") {
      await res.body?.cancel();
      if (decoded?.kind !== "vary" || decoded.key !== key) return null;
      this.#memory?.setRecord(name, key, decoded.record, now);
      return { kind: "vary", record: decoded.record };
    }
    // The Cache API need not say how long the body is; the stored headers do, and put()
    // checked the stored bytes against them.
    const length = Number(res.headers.get("content-length") ?? declaredLength(decoded.meta) ?? NaN);
    if (this.#memory !== null && res.body !== null && this.#memory.fits(length)) {
      // A small object: read it whole and keep it for the next requests in this isolate.
      const bytes = new Uint8Array(await res.arrayBuffer());
      this.#memory.set(name, key, decoded.meta, bytes, now);
      return { kind: "entry", entry: { meta: decoded.meta, body: bytes } };
    }
    return { kind: "entry", entry: { meta: decoded.meta, body: res.body } };
  }

  /**
   * Store a body with its metadata, kept by the Cache API until `meta.deleteAt` (stale
   * windows and the revalidation keep period included). Rejects when the body stream
   * errors: an upstream abort mid-body leaves nothing stored.
   *
   * A response that varies (`meta.vary`) is stored as the variant its values select, and
   * the key's vary record lists it (./vary-record.ts); one that does not replaces
   * whatever the name held.
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
    const vary = meta.vary;
    if (vary === null || vary.fields.length === 0) {
      return this.#putEntry(name, key, meta, body, now, purgeUrls);
    }
    const vk = variantKey(key, vary.fields, vary.values);
    // The record as the Cache API has it now (not an isolate's copy, which may be older).
    const current = await this.#read(name, key, now, false);
    if (current?.kind === "entry") discard(current.entry.body);
    const record = current?.kind === "vary" ? current.record : null;
    const placed = placeVariant(record, vary.fields, storageName(vk), meta.deleteAt);
    const result = await this.#putEntry(
      slotName(name, placed.slot),
      vk,
      meta,
      body,
      now,
      purgeUrls,
    );
    if (result !== "stored") return result;
    return this.#putRecord(name, key, placed.record, meta, now, purgeUrls);
  }

  async #putRecord(
    name: string,
    key: string,
    record: VaryRecord,
    meta: EntryMeta,
    now: number,
    purgeUrls: readonly string[],
  ): Promise<PutResult> {
    const keepFor = Math.ceil((record.deleteAt - now) / 1000);
    const encoded = encodeVaryRecord(key, record);
    if (encoded === null) return "too-large-metadata";
    if (keepFor <= 0) return "expired";
    // The record carries the same purge tags as its variants, so a purge takes it too.
    await this.#cache.put(
      CACHE_ORIGIN + name,
      new Response(null, { status: 200, headers: storedFields(keepFor, encoded, purgeUrls, meta) }),
    );
    this.#memory?.setRecord(name, key, record, now);
    return "stored";
  }

  async #putEntry(
    name: string,
    key: string,
    meta: EntryMeta,
    body: StoredBody,
    now: number,
    purgeUrls: readonly string[],
  ): Promise<PutResult> {
    // A body whose length is known now keeps it in the metadata, so that every hit (and
    // every 304 renewal, which keeps the stored Content-Length) can say how long it is.
    let stored = meta;
    if (!(body instanceof ReadableStream) && declaredLength(meta) === null) {
      stored = withLength(meta, body?.byteLength ?? 0);
    }
    const keepFor = Math.ceil((stored.deleteAt - now) / 1000);
    const encoded = encodeMeta(key, stored);
    const result: PutResult =
      encoded === null ? "too-large-metadata" : keepFor <= 0 ? "expired" : "stored";
    this.#memory?.delete(name);
    if (result !== "stored" || encoded === null) {
      if (body instanceof ReadableStream) await body.cancel();
      return result;
    }
    const headers = storedFields(keepFor, encoded, purgeUrls, stored);
    const url = CACHE_ORIGIN + name;
    if (!(body instanceof ReadableStream)) {
      await this.#cache.put(url, new Response(body, { status: 200, headers }));
      if (body !== null) this.#memory?.set(name, key, stored, body, now);
      return "stored";
    }
    // The Cache API may keep what it received of a body that failed half-way (Miniflare
    // does), so the edge checks the bytes itself and takes back an incomplete entry.
    const expected = declaredLength(stored);
    const keepUpTo = this.#memory === null ? 0 : (expected ?? 0);
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
    if (!complete || (expected !== null && bytes !== expected)) {
      await this.#cache.delete(url);
      throw new Error(
        `body incomplete (${bytes} bytes${expected === null ? "" : ` of ${expected}`})`,
      );
    }
    if (putError !== null) throw putError;
    if (expected === null) {
      // A body that came without a length (chunked): now that it is counted, write the
      // entry again with its length, reading the stored bytes back.
      await this.#relabel(url, key, withLength(stored, bytes), keepFor, purgeUrls);
      return "stored";
    }
    if (kept !== null) this.#memory?.set(name, key, stored, kept, now);
    return "stored";
  }

  /** Rewrite a stored entry's metadata, unless another write replaced it meanwhile. */
  async #relabel(
    url: string,
    key: string,
    meta: EntryMeta,
    keepFor: number,
    purgeUrls: readonly string[],
  ): Promise<void> {
    const encoded = encodeMeta(key, meta);
    const res = await this.#cache.match(url);
    if (res === undefined) return;
    const current = decodeMeta(res.headers.get(META_HEADER));
    if (
      encoded === null ||
      current?.key !== key ||
      current.meta.responseTime !== meta.responseTime
    ) {
      await res.body?.cancel();
      return;
    }
    const headers = storedFields(keepFor, encoded, purgeUrls, meta);
    await this.#cache.put(url, new Response(res.body, { status: 200, headers }));
  }

  /** Drop what `name` holds: the entry, or the vary record and every variant it lists. */
  async delete(name: string): Promise<boolean> {
    this.#memory?.delete(name);
    const url = CACHE_ORIGIN + name;
    const res = await this.#cache.match(url);
    if (res === undefined) return false;
    await res.body?.cancel();
    const decoded = decodeStored(res.headers.get(META_HEADER));
    if (decoded?.kind === "vary") {
      await Promise.all(
        decoded.record.variants.map((v) => {
          const slot = slotName(name, v.slot);
          this.#memory?.delete(slot);
          return this.#cache.delete(CACHE_ORIGIN + slot);
        }),
      );
    }
    return this.#cache.delete(url);
  }
}
