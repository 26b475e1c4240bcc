/**
 * The Redis tier (store/lower-tier.ts): responses stored in the Redis every shield node
 * shares, so one node's fill is every node's hit. The layout is in store/redis-records.ts.
 *
 * Redis can only make a request faster, never fail it: each read is bounded by the link's
 * timeout (tens of ms), and a timeout, an unreachable Redis or a record that does not
 * check out (damaged, written by another version, stored under another key) is a miss.
 * Writes are dropped while Redis is down. Nothing here rejects.
 *
 * Expiry is decided by this node's clock (`now`): a record past its deleteAt is a miss
 * and is deleted. Redis also expires each record, deleteAt - now plus a grace, so what
 * no node reads again does not stay; the grace keeps a record a node with a slower clock
 * may still use.
 */
import type { RedisLink, RedisResult } from "../cluster/redis-link.ts";
import type {
  LowerRecord,
  LowerTier,
  LowerTierEvents,
  LowerTierHealth,
  LowerWriter,
  RecordHead,
} from "./lower-tier.ts";
import { purgeShared, type RedisPurgeSelector } from "./redis-purge.ts";
import {
  DELETE,
  type DecodedRecord,
  decodeHead,
  encodeHead,
  encodeIndexes,
  encodeVary,
  NO_INDEXES,
  REPLACE_HEAD,
  type RedisNames,
  redisNames,
  WRITE,
} from "./redis-records.ts";
import { ownCopy, RedisWriter } from "./redis-writer.ts";

export interface RedisTierOptions {
  readonly link: RedisLink;
  /** Prefix of every key (several clusters can share one Redis). */
  readonly keyPrefix: string;
  /** The largest body stored; larger ones stay in the node's own tiers. */
  readonly maxObjectBytes: number;
  /** The clock expiry is decided by (ms since the epoch); Date.now by default. */
  readonly now?: (() => number) | undefined;
  readonly events?: readonly LowerTierEvents[] | undefined;
}

/** How much longer Redis keeps a record than its deleteAt (clock skew between nodes). */
export const EXPIRY_GRACE_MS = 10_000;
/**
 * Writes, purges and clear are off the hit path and move more bytes than a read: they get
 * SLOW_FACTOR times the link's timeout, at least a second.
 */
const SLOW_FACTOR = 20;
/** How often health() refreshes the size figures it reads from Redis. */
const STATS_EVERY_MS = 5_000;

export class RedisTier implements LowerTier {
  readonly name = "redis";
  readonly maxObjectBytes: number;
  readonly #link: RedisLink;
  readonly #names: RedisNames;
  readonly #now: () => number;
  readonly #events: readonly LowerTierEvents[];
  /** Off the hit path (writes, purges, clear): longer than a read may take. */
  readonly #slowMs: number;
  readonly #pending = new Set<Promise<unknown>>();
  #closed = false;
  #stats = { bytes: 0, entries: 0, at: Number.NEGATIVE_INFINITY };

  constructor(options: RedisTierOptions) {
    this.#link = options.link;
    this.#names = redisNames(options.keyPrefix);
    this.maxObjectBytes = options.maxObjectBytes;
    this.#now = options.now ?? Date.now;
    this.#events = options.events ?? [];
    this.#slowMs = Math.max(1000, options.link.timeoutMs * SLOW_FACTOR);
  }

  async get(key: string): Promise<LowerRecord | undefined> {
    if (this.#closed) return undefined;
    const name = this.#names.record(key);
    const read = await this.#link.command(["HMGET", name, "h", "b", "n"], { buffers: true });
    if (!read.ok || !Array.isArray(read.value)) return undefined;
    const [rawHead, body, length] = read.value as (Buffer | null)[];
    if (rawHead === null || rawHead === undefined) return undefined;
    const record = decodeHead(rawHead.toString());
    if (record === null || record.key !== key) return undefined;
    if (this.#now() >= deleteAtOf(record)) {
      this.#track(this.#remove(name, rawHead, "expire"));
      return undefined;
    }
    if (record.kind === "vary") return { kind: "vary", fields: record.fields };
    if (!Buffer.isBuffer(body) || length == null || Number(length.toString()) !== body.length) {
      // A body that is not the length written is damage, not another version's format:
      // drop it (unless rewritten meanwhile) so no node reads it again.
      this.#track(this.#remove(name, rawHead, "delete"));
      return undefined;
    }
    return { kind: "object", head: record.head, body: ownCopy(body) };
  }

  async putVary(primary: string, fields: readonly string[], deleteAt: number): Promise<void> {
    const px = this.#expiry(deleteAt);
    if (px === null) return;
    const head = encodeVary(primary, fields, deleteAt);
    await this.#write(primary, [head, NO_INDEXES, String(px), String(deleteAt)], null);
  }

  writer(key: string, head: RecordHead, declaredLength: number | null): LowerWriter | null {
    if (this.#closed || this.#link.state === "down") return null;
    if (declaredLength !== null && declaredLength > this.maxObjectBytes) return null;
    if (this.#expiry(head.meta.deleteAt) === null) return null;
    return new RedisWriter(this.maxObjectBytes, declaredLength, (body) =>
      this.#track(this.#store(key, head, body)),
    );
  }

  async replaceHead(key: string, head: RecordHead): Promise<boolean> {
    const px = this.#expiry(head.meta.deleteAt);
    if (this.#closed || px === null) return false;
    const args = [
      encodeHead(key, head),
      encodeIndexes(this.#names, head),
      String(px),
      String(head.meta.deleteAt),
      String(this.#now()),
      "",
    ];
    const result = await this.#link.script(REPLACE_HEAD, this.#keys(key), args, {
      timeoutMs: this.#slowMs,
    });
    const old = replaced(result);
    if (old === null) return false;
    this.#tell(key, old, head);
    return true;
  }

  async delete(key: string): Promise<void> {
    if (this.#closed) return;
    await this.#remove(this.#names.record(key), "", "delete");
  }

  /** Every record of this tier (other users of the prefix, leases, are left alone). */
  async clear(): Promise<void> {
    if (this.#closed) return;
    for (const pattern of [this.#names.recordPattern, this.#names.indexPattern]) {
      let cursor = "0";
      do {
        const page = await this.#link.command(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"], {
          timeoutMs: this.#slowMs,
        });
        if (!page.ok || !Array.isArray(page.value)) return;
        const [next, names] = page.value as [string, string[]];
        cursor = next;
        if (pattern === this.#names.recordPattern) {
          await Promise.all(names.map((name) => this.#remove(name, "", "delete")));
        } else if (names.length > 0) {
          await this.#link.command(["UNLINK", ...names], { timeoutMs: this.#slowMs });
        }
      } while (cursor !== "0");
    }
    await this.#link.command(["UNLINK", this.#names.urls], { timeoutMs: this.#slowMs });
  }

  /**
   * Purge what the selector names (URLs and prefixes normalised) from the shared tier:
   * how many stored responses it deleted or, soft, made stale; "down" if Redis could not
   * be reached or failed part way. A URL also purges the responses made from it.
   */
  purge(selector: RedisPurgeSelector, soft: boolean, now: number): Promise<number | "down"> {
    if (this.#closed) return Promise.resolve("down");
    return purgeShared(
      {
        link: this.#link,
        names: this.#names,
        timeoutMs: this.#slowMs,
        expiry: (deleteAt) => this.#expiry(deleteAt, now),
        removed: (key, head) => this.#tell(key, head, null),
        replaced: (key, old, head) => this.#tell(key, old, head),
      },
      selector,
      soft,
      now,
    );
  }

  health(): LowerTierHealth {
    const link = this.#link.health();
    if (!this.#closed && performance.now() - this.#stats.at >= STATS_EVERY_MS) {
      this.#refreshStats();
    }
    return {
      ...link,
      state: link.state,
      bytes: this.#stats.bytes,
      entries: this.#stats.entries,
      maxBytes: null,
    };
  }

  /** Wait for writes under way (the link is the caller's to close). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pending]);
  }

  async #store(key: string, head: RecordHead, body: Buffer): Promise<boolean> {
    const px = this.#expiry(head.meta.deleteAt);
    if (this.#closed || px === null) return false;
    const args = [
      encodeHead(key, head),
      encodeIndexes(this.#names, head),
      String(px),
      String(head.meta.deleteAt),
    ];
    return this.#write(key, args, body, head);
  }

  async #write(
    key: string,
    args: string[],
    body: Buffer | null,
    head?: RecordHead,
  ): Promise<boolean> {
    const full = body === null ? args : [...args, String(body.length), body];
    const result = await this.#link.script(WRITE, this.#keys(key), full, {
      timeoutMs: this.#slowMs,
    });
    if (!result.ok) return false;
    const old = typeof result.value === "string" ? decodeHead(result.value) : null;
    this.#tell(key, old?.kind === "object" ? old.head : null, head ?? null, "replace");
    return true;
  }

  /** Delete a record (only if its head is still `expected`, unless that is ""). */
  async #remove(
    name: string,
    expected: Buffer | string,
    reason: "delete" | "expire",
  ): Promise<void> {
    const result = await this.#link.script(DELETE, [name, this.#names.urls], [expected], {
      timeoutMs: this.#slowMs,
    });
    const old = result.ok && typeof result.value === "string" ? decodeHead(result.value) : null;
    if (old?.kind !== "object") return;
    for (const events of this.#events) events.removed(old.key, old.head, reason);
  }

  /** Tell the events a head left (`old`) and/or arrived (`head`) under `key`. */
  #tell(
    key: string,
    old: RecordHead | null,
    head: RecordHead | null,
    reason: "delete" | "replace" = head === null ? "delete" : "replace",
  ): void {
    for (const events of this.#events) {
      if (old !== null) events.removed(key, old, reason);
      if (head !== null) events.stored(key, head);
    }
  }

  #keys(key: string): string[] {
    return [this.#names.record(key), this.#names.urls];
  }

  /** Milliseconds Redis keeps a record deleted at `deleteAt`; null when already due. */
  #expiry(deleteAt: number, now = this.#now()): number | null {
    const left = Math.ceil(deleteAt - now);
    return left > 0 && Number.isFinite(left) ? left + EXPIRY_GRACE_MS : null;
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
    return work;
  }

  /**
   * Best-effort size figures, read at most every few seconds in the background: the
   * memory Redis uses as a whole (INFO memory) and its number of keys, records and
   * indexes alike (DBSIZE). Counting only this tier's records would mean a scan.
   */
  #refreshStats(): void {
    this.#stats.at = performance.now();
    void Promise.all([
      this.#link.command(["INFO", "memory"], { timeoutMs: this.#slowMs }),
      this.#link.command(["DBSIZE"], { timeoutMs: this.#slowMs }),
    ]).then(([memory, size]) => {
      const used = memory.ok ? /used_memory:(\d+)/.exec(String(memory.value))?.[1] : undefined;
      if (used !== undefined) this.#stats.bytes = Number(used);
      if (size.ok && typeof size.value === "number") this.#stats.entries = size.value;
    });
  }
}

function deleteAtOf(record: DecodedRecord): number {
  return record.kind === "vary" ? record.deleteAt : record.head.meta.deleteAt;
}

/** The head a REPLACE_HEAD script replaced, or null when it replaced nothing. */
function replaced(result: RedisResult): RecordHead | null {
  if (!result.ok || typeof result.value !== "string") return null;
  const old = decodeHead(result.value);
  return old?.kind === "object" ? old.head : null;
}
