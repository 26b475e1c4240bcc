/**
 * The contract of the tiers below memory: the disk tier (store/disk-tier.ts, this node's
 * own, survives a restart) and the Redis tier (store/redis-tier.ts, shared by every
 * node). They sit behind the memory tier in store/tiered-store.ts, which is what the
 * cache path sees (store/tier.ts); a hit in a lower tier is promoted to memory.
 *
 * A lower tier is a map from a storage key to a record: either a complete response (its
 * head, and its body) or, under a primary key whose responses vary, the list of Vary
 * fields that makes the keys of its variants (the memory tier does the same, RFC 9111
 * §4.1). Every call is asynchronous and none rejects: a tier that fails (a full disk, a
 * Redis that is down or slow) answers "nothing stored" and reports itself in `health()`,
 * so a failing tier costs a miss, never a request.
 *
 * Records expire at their entry's `deleteAt` (ms since the epoch): after it, no tier
 * returns them.
 */
import type { EntryMeta } from "../../core/policy/index.ts";
import type { StreamedBody } from "../types.ts";
import type { StoredIdentity } from "./stored-object.ts";

export type { StreamedBody };

/** Everything stored about a response but its body: what a lower tier serialises. */
export interface RecordHead {
  readonly meta: EntryMeta;
  readonly id: StoredIdentity;
}

export type LowerRecord =
  | { readonly kind: "vary"; readonly fields: readonly string[] }
  | { readonly kind: "object"; readonly head: RecordHead; readonly body: Buffer }
  | { readonly kind: "streamed"; readonly head: RecordHead; readonly body: StreamedBody };

/** What `health()` reports: the tier's state and its size. */
export interface LowerTierHealth {
  /** "up"; "down" when the tier cannot be used at all (Redis unreachable, disk unwritable). */
  readonly state: "up" | "down";
  readonly bytes: number;
  readonly entries: number;
  readonly maxBytes: number | null;
  /** Why the tier is down, when it is. */
  readonly error?: string | undefined;
  readonly [more: string]: unknown;
}

/**
 * What a lower tier tells whoever indexes its contents (a purge index of the disk tier's
 * entries, metrics): told for entries found at start-up too.
 */
export interface LowerTierEvents {
  stored(key: string, head: RecordHead): void;
  removed(key: string, head: RecordHead, reason: "evict" | "delete" | "replace" | "expire"): void;
}

/** A body stored as it arrives. */
export interface LowerWriter {
  /** Take the next chunk (copied or queued; the caller may reuse it). False: gave up. */
  write(chunk: Buffer): boolean;
  /** The body is complete; resolves true once it is stored and visible, false if not. */
  commit(): Promise<boolean>;
  /** Drop what was written. */
  abort(): void;
}

export interface LowerTier {
  readonly name: "disk" | "redis";
  /** The largest body this tier keeps. */
  readonly maxObjectBytes: number;
  /** The record stored under `key`; undefined when none, expired, damaged or on failure. */
  get(key: string): Promise<LowerRecord | undefined>;
  /** Record the Vary fields of the responses stored under `primary`. */
  putVary(primary: string, fields: readonly string[], deleteAt: number): Promise<void>;
  /**
   * A writer for a response under `key`, or null when the tier will not take it (over its
   * object bound as declared, or the tier is down).
   */
  writer(key: string, head: RecordHead, declaredLength: number | null): LowerWriter | null;
  /** New head (a 304 refresh, a soft purge) for what is stored under `key`; false if none. */
  replaceHead(key: string, head: RecordHead): Promise<boolean>;
  delete(key: string): Promise<void>;
  clear(): Promise<void>;
  health(): LowerTierHealth;
  /** Release files and connections. */
  close(): Promise<void>;
}
