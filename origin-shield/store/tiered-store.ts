/**
 * Memory in front of the lower tiers (store/lower-tier.ts): this node's disk, then the
 * Redis every node shares. The cache path sees one Tier (store/tier.ts):
 *
 *   lookup: memory (synchronous) → disk → Redis; a hit below is promoted to every tier
 *           above it (to memory when it fits whole; a body streamed from disk stays there)
 *   write:  one fill's body goes to each tier that takes it as it arrives; memory's copy
 *           is visible at commit, the others' once their writes land (`stored()`)
 *   replace, delete: every tier
 *
 * A lower tier that fails answers "nothing stored": the request goes on as a miss and the
 * tier reports itself in health. Concurrent reads of one key from one tier share one
 * call, so a herd that misses memory costs the disk or Redis one read, not one each.
 */
import type { HeaderReader } from "../../core/policy/index.ts";
import type { LowerRecord, LowerTier, LowerWriter, RecordHead } from "./lower-tier.ts";
import type { MemoryTier } from "./memory-tier.ts";
import { varyKey } from "./memory-tier.ts";
import { bodySize, type StoredObject, toStoredObject } from "./stored-object.ts";
import type { StoredHead, Tier, TierWriter } from "./tier.ts";

/** What the store tells metrics about each lower tier's reads. */
export interface LowerTierObserver {
  read(tier: LowerTier["name"], result: "hit" | "miss", seconds: number, bytes: number): void;
}

export class TieredStore implements Tier {
  readonly name = "tiered";
  readonly memory: MemoryTier;
  readonly lowers: readonly LowerTier[];
  readonly #observer: LowerTierObserver | undefined;
  /** Reads in progress, per tier, by key. */
  readonly #reading: Map<string, Promise<LowerRecord | undefined>>[];
  /** Writes to lower tiers not yet landed. */
  readonly #writing = new Set<Promise<unknown>>();
  /** Moves on at each purge: a read from below that started before one is not promoted. */
  #generation = 0;

  constructor(memory: MemoryTier, lowers: readonly LowerTier[], observer?: LowerTierObserver) {
    this.memory = memory;
    this.lowers = lowers;
    this.#observer = observer;
    this.#reading = lowers.map(() => new Map());
  }

  get bytes(): number {
    return this.memory.bytes;
  }

  get entries(): number {
    return this.memory.entries;
  }

  get maxBytes(): number {
    return this.memory.maxBytes;
  }

  get maxObjectBytes(): number {
    return Math.max(this.memory.maxObjectBytes, ...this.lowers.map((t) => t.maxObjectBytes));
  }

  lookup(primary: string, request: HeaderReader): StoredObject | Promise<StoredObject | undefined> {
    return this.memory.lookup(primary, request) ?? this.#lookupBelow(primary, request);
  }

  async #lookupBelow(primary: string, request: HeaderReader): Promise<StoredObject | undefined> {
    const generation = this.#generation;
    for (let at = 0; at < this.lowers.length; at++) {
      const tier = this.lowers[at] as LowerTier;
      const started = performance.now();
      const found = await this.#readObject(at, primary, request);
      const seconds = (performance.now() - started) / 1000;
      if (found === undefined) {
        this.#observer?.read(tier.name, "miss", seconds, 0);
        continue;
      }
      const record = found.record;
      const served = objectOf(record, tier.name);
      if (served.primary !== primary) continue; // never another key's response
      this.#observer?.read(tier.name, "hit", seconds, bodySize(served));
      // What was read before a purge may be the purged copy: it answers the request that
      // read it, but no tier above keeps it. (A body streamed from disk stays there.)
      if (generation === this.#generation && record.kind === "object") {
        this.#promote(objectOf(record, undefined), record, found.key, at, request);
      }
      return served;
    }
    return undefined;
  }

  /** The object record `request` selects under `primary` in one lower tier. */
  async #readObject(
    at: number,
    primary: string,
    request: HeaderReader,
  ): Promise<{ record: ObjectRecord; key: string } | undefined> {
    let key = primary;
    let record = await this.#read(at, key);
    if (record?.kind === "vary") {
      key = varyKey(primary, record.fields, request);
      record = await this.#read(at, key);
    }
    if (record === undefined || record.kind === "vary") return undefined;
    return { record, key };
  }

  #read(at: number, key: string): Promise<LowerRecord | undefined> {
    const reading = this.#reading[at] as Map<string, Promise<LowerRecord | undefined>>;
    const pending = reading.get(key);
    if (pending !== undefined) return pending;
    const read = (this.lowers[at] as LowerTier).get(key);
    reading.set(key, read);
    void read.finally(() => reading.delete(key));
    return read;
  }

  /** A hit below is copied into every tier above the one it came from. */
  #promote(
    obj: StoredObject,
    record: ObjectRecord,
    key: string,
    from: number,
    request: HeaderReader,
  ): void {
    if (record.kind === "object") this.memory.put(obj, request);
    if (record.kind !== "object" || from === 0) return;
    const head = headOf(obj);
    const body = record.body;
    for (const tier of this.lowers.slice(0, from)) {
      const writer = tier.writer(key, head, body.length);
      if (writer === null) continue;
      this.track(
        Promise.all([
          varyOf(tier, obj),
          writer.write(body) ? writer.commit() : Promise.resolve(false),
        ]),
      );
    }
  }

  hasVariants(primary: string): boolean {
    return this.memory.hasVariants(primary);
  }

  keyOf(obj: StoredObject, request: HeaderReader): string {
    return this.memory.keyOf(obj, request);
  }

  writer(head: StoredHead, request: HeaderReader): TierWriter | null {
    const memory = this.memory.writer(head, request);
    const vary = head.meta.vary;
    const primary = head.id.primary;
    const key = vary === null ? primary : varyKey(primary, vary.fields, request);
    const record: RecordHead = { meta: head.meta, id: head.id };
    const lowers: { tier: LowerTier; writer: LowerWriter }[] = [];
    for (const tier of this.lowers) {
      const writer = tier.writer(key, record, head.declaredLength);
      if (writer !== null) lowers.push({ tier, writer });
    }
    if (memory === null && lowers.length === 0) return null;
    return new TieredWriter(this, memory, lowers, record);
  }

  put(obj: StoredObject, request: HeaderReader): boolean {
    const kept = this.memory.put(obj, request);
    if (obj.streamed !== undefined) return kept;
    const key = this.keyOf(obj, request);
    const head = headOf(obj);
    let taken = kept;
    for (const tier of this.lowers) {
      const writer = tier.writer(key, head, obj.body.length);
      if (writer === null) continue;
      taken = true;
      const wrote = writer.write(obj.body) ? writer.commit() : Promise.resolve(false);
      this.track(Promise.all([varyOf(tier, obj), wrote]));
    }
    return taken;
  }

  replace(key: string, obj: StoredObject): boolean {
    const kept = this.memory.replace(key, obj);
    const head = headOf(obj);
    for (const tier of this.lowers) this.track(tier.replaceHead(key, head));
    return kept || this.lowers.length > 0;
  }

  peek(key: string): StoredObject | undefined {
    return this.memory.peek(key);
  }

  delete(key: string): void {
    this.memory.delete(key);
    for (const tier of this.lowers) this.track(tier.delete(key));
  }

  clear(): void {
    this.memory.clear();
    for (const tier of this.lowers) this.track(tier.clear());
  }

  /**
   * Before a purge: reads from below in flight will not be promoted, and every write
   * started so far has landed (so the indexes the purge reads know of it).
   */
  async fence(): Promise<void> {
    this.#generation++;
    await this.settled();
  }

  /** Resolves when every write to a lower tier started so far has landed. */
  async settled(): Promise<void> {
    while (this.#writing.size > 0) await Promise.allSettled([...this.#writing]);
  }

  /** Keep a lower tier's write until it lands (it never rejects: lower tiers do not). */
  track(pending: Promise<unknown>): Promise<unknown> {
    this.#writing.add(pending);
    void pending.finally(() => this.#writing.delete(pending));
    return pending;
  }
}

type ObjectRecord = Exclude<LowerRecord, { kind: "vary" }>;

/** One fill's body, written to memory and to each lower tier that takes it. */
class TieredWriter implements TierWriter {
  readonly #store: TieredStore;
  #memory: TierWriter | null;
  readonly #lowers: { tier: LowerTier; writer: LowerWriter }[];
  readonly #head: RecordHead;
  #landed: Promise<unknown> = Promise.resolve();

  constructor(
    store: TieredStore,
    memory: TierWriter | null,
    lowers: { tier: LowerTier; writer: LowerWriter }[],
    head: RecordHead,
  ) {
    this.#store = store;
    this.#memory = memory;
    this.#lowers = lowers;
    this.#head = head;
  }

  write(chunk: Buffer): Buffer | null {
    let kept: Buffer | null = null;
    if (this.#memory !== null) {
      kept = this.#memory.write(chunk);
      if (kept === null) this.#memory = null;
    }
    const lowers = this.#lowers;
    for (let at = lowers.length - 1; at >= 0; at--) {
      if (!(lowers[at] as { writer: LowerWriter }).writer.write(chunk)) lowers.splice(at, 1);
    }
    if (kept !== null) return kept;
    return lowers.length > 0 ? chunk : null;
  }

  commit(): StoredObject | null {
    const obj = this.#memory === null ? null : this.#memory.commit();
    this.#memory = null;
    if (this.#lowers.length > 0) {
      const head = this.#head;
      const writes = this.#lowers.map(({ tier, writer }) =>
        Promise.all([varyOf(tier, head), writer.commit()]),
      );
      this.#landed = this.#store.track(Promise.all(writes));
    }
    return obj;
  }

  abort(): void {
    this.#memory?.abort();
    this.#memory = null;
    for (const { writer } of this.#lowers) writer.abort();
    this.#lowers.length = 0;
  }

  async stored(): Promise<void> {
    await this.#landed;
  }
}

/** Record the Vary fields of a varying response in a lower tier (nothing otherwise). */
function varyOf(tier: LowerTier, head: Pick<StoredObject, "meta" | "primary"> | RecordHead) {
  const vary = head.meta.vary;
  if (vary === null) return Promise.resolve();
  const primary = "primary" in head ? head.primary : head.id.primary;
  return tier.putVary(primary, vary.fields, head.meta.deleteAt);
}

function headOf(obj: StoredObject): RecordHead {
  return {
    meta: obj.meta,
    id: { url: obj.url, primary: obj.primary, derivedFrom: obj.derivedFrom },
  };
}

/**
 * What toStoredObject makes of a lower tier's head, without the body: kept by the head
 * object. The disk tier hands back the same head for every hit on a file it read lately
 * (store/disk-heads.ts), so the fields are interned and flattened once per file rather
 * than once per hit, and every hit shares one field list, which respond.ts recognises
 * to reuse the fields it wrote for the last one. Held weakly: a shape goes with its head.
 */
const shapes = new WeakMap<RecordHead, StoredObject>();
const NO_BODY = Buffer.alloc(0);

function unopened(): never {
  throw new Error("a stored object's shape has no body");
}

/** The StoredObject for a record read from a lower tier, told where it came from. */
function objectOf(record: ObjectRecord, from: LowerTier["name"] | undefined): StoredObject {
  const size = record.kind === "object" ? record.body.length : record.body.size;
  let shape = shapes.get(record.head);
  if (shape === undefined || bodySize(shape) !== size) {
    const { meta, id } = record.head;
    shape = toStoredObject(meta, NO_BODY, id, { size, open: unopened });
    shapes.set(record.head, shape);
  }
  if (record.kind !== "object") return { ...shape, streamed: record.body, from };
  const body = record.body;
  // What memory keeps has no `from`, as what it stores from a fill has none.
  if (from === undefined) return { ...shape, body, streamed: undefined };
  return { ...shape, body, streamed: undefined, from };
}
