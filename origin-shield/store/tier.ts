/**
 * The contract every storage tier keeps (memory today; disk and a shared Redis build on
 * it). A tier stores complete responses under a primary key (core/key) and, for a
 * response that varies, under the primary key plus the normalised values of its Vary
 * fields (RFC 9111 §4.1); a lookup takes the request's headers and returns only the
 * response they select.
 *
 *   lookup(primary, request)  the stored response this request selects, or undefined
 *   writer(head, request)     a body written as it arrives, stored on commit
 *   replace(key, obj)         new metadata for what is stored there (304 refresh, purge)
 *   delete(key) · clear()
 *   events                    stored/removed, so indexes outside the tier stay in step
 *
 * Reads that have to wait (disk, network) return a promise; the memory tier answers
 * synchronously so that a hit costs no promise. A tier never serves a partial body: what
 * a writer did not commit is not visible, and a write that fails is dropped.
 */
import type { EntryMeta, HeaderReader } from "../../core/policy/index.ts";
import type { StoredIdentity, StoredObject } from "./stored-object.ts";

export type MaybePromise<T> = T | Promise<T>;

/** Why an object left a tier under its key. */
export type RemovalReason = "evict" | "delete" | "replace";

/** What a tier tells whoever indexes its contents (store/purge-index.ts, metrics). */
export interface TierEvents {
  /** `obj` is now stored under `key`. */
  stored(key: string, obj: StoredObject): void;
  /** `obj` is no longer stored under `key`. */
  removed(key: string, obj: StoredObject, reason: RemovalReason): void;
}

/** The head of a response about to be stored: everything but the body. */
export interface StoredHead {
  readonly meta: EntryMeta;
  readonly id: StoredIdentity;
  /** Content-Length as the origin declared it, when it did. */
  readonly declaredLength: number | null;
}

/** A body being stored as it arrives. */
export interface TierWriter {
  /**
   * Take the next chunk. Returns the bytes to relay to readers (a view of the tier's own
   * copy when it keeps one, so the socket's chunk can be freed), or null when the tier
   * gave up on this object (it grew over the tier's bound): nothing of it is stored.
   */
  write(chunk: Buffer): Buffer | null;
  /** The body is complete: store it. Returns the stored object, or null if not stored. */
  commit(): StoredObject | null;
  /** Drop what was written (the body was cut short). */
  abort(): void;
  /**
   * After commit: resolves once every tier that took the body has stored it (disk and
   * Redis store after commit returns; other nodes read it from Redis only then). Never
   * rejects. Absent: stored when commit returned.
   */
  stored?(): Promise<void>;
}

export interface Tier {
  readonly name: string;
  /** Bytes held, as counted against `maxBytes` (store/stored-object.ts storedSize). */
  readonly bytes: number;
  readonly entries: number;
  readonly maxBytes: number;
  /** The largest body this tier keeps. */
  readonly maxObjectBytes: number;

  /** The stored response `request`'s headers select under `primary`, if any. */
  lookup(primary: string, request: HeaderReader): MaybePromise<StoredObject | undefined>;
  /** Whether responses are stored under `primary` for other values of its Vary fields. */
  hasVariants(primary: string): boolean;
  /** The key `obj` is stored under when selected by `request` (for replace and delete). */
  keyOf(obj: StoredObject, request: HeaderReader): string;
  /** A writer for a new response, or null when the tier will not take it (too large). */
  writer(head: StoredHead, request: HeaderReader): TierWriter | null;
  /** Store a complete object; false when the tier did not take it. */
  put(obj: StoredObject, request: HeaderReader): boolean;
  /** New metadata for the object stored under `key`; false when nothing is stored there. */
  replace(key: string, obj: StoredObject): boolean;
  /** The object stored under `key`, without touching its recency. */
  peek(key: string): StoredObject | undefined;
  delete(key: string): void;
  clear(): void;
}
