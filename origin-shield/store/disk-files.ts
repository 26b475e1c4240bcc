/**
 * The disk tier's files and their index (store/disk-tier.ts is the tier): every change
 * to a file, made one at a time per file under its lock (store/disk-index.ts), with the
 * index and the events kept in step. Whoever removes or replaces a file reads its
 * description first and tells the events what left, so each stored event is matched by
 * one removed event, whichever of eviction, expiry, delete, replacement or damage ends
 * the file.
 */
import { lstat, mkdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { DiskAvailability } from "./disk-availability.ts";
import {
  costOf,
  type RecordDescription,
  recordFolder,
  recordName,
  recordPath,
} from "./disk-format.ts";
import { DiskIndex, FileLocks, type IndexEntry } from "./disk-index.ts";
import { type Damage, describeFile } from "./disk-read.ts";
import { forEachRecordFile, inBatches } from "./disk-scan.ts";
import { copyWithDescription, type WrittenFile } from "./disk-writer.ts";
import type { LowerTierEvents, RecordHead } from "./lower-tier.ts";

export interface DiskFilesOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly events: readonly LowerTierEvents[];
  readonly log: Logger | undefined;
  readonly now: () => number;
  readonly availability: DiskAvailability;
  /** A new path in the tier's temp folder. */
  readonly tempPath: () => string;
  /** Told of every entry that leaves the index (store/disk-index.ts). */
  readonly dropped?: ((entry: IndexEntry) => void) | undefined;
}

type RemovalReason = "evict" | "delete" | "replace" | "expire";

/** Files handled at once by clear, between yields. */
const BATCH = 16;
/** Index entries the sweep looks at per run. */
const SWEEP_BATCH = 1000;

export class DiskFiles {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #events: readonly LowerTierEvents[];
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #availability: DiskAvailability;
  readonly #tempPath: () => string;
  readonly #index: DiskIndex;
  readonly #locks = new FileLocks();
  readonly #folders = new Set<string>();
  #corrupt = 0;

  constructor(options: DiskFilesOptions) {
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes;
    this.#events = options.events;
    this.#log = options.log;
    this.#now = options.now;
    this.#availability = options.availability;
    this.#tempPath = options.tempPath;
    this.#index = new DiskIndex(options.dropped);
  }

  get bytes(): number {
    return this.#index.bytes;
  }

  get entries(): number {
    return this.#index.size;
  }

  /** Damaged files found, and removed. */
  get corrupt(): number {
    return this.#corrupt;
  }

  pathOf(name: string): string {
    return recordPath(this.#dir, name);
  }

  /** The entry indexed under `name` now, if any: no file is read. */
  indexed(name: string): IndexEntry | undefined {
    return this.#index.get(name);
  }

  /** The entry for `name`; when not indexed and `fromFile`, indexed from its file. */
  async lookup(name: string, fromFile: boolean): Promise<IndexEntry | undefined> {
    const entry = this.#index.get(name);
    if (entry !== undefined || !fromFile) return entry;
    return this.#locks.run(name, () => this.#adopt(name));
  }

  touch(entry: IndexEntry): void {
    this.#index.touch(entry);
  }

  /** The file of `entry` is gone from under the tier (removed by hand): forget it. */
  forget(entry: IndexEntry): void {
    this.#index.remove(entry);
  }

  /** Index the file `name`, for the rebuild. Never rejects. */
  async adopt(name: string): Promise<void> {
    try {
      await this.#locks.run(name, () => this.#adopt(name));
    } catch (error) {
      this.#log?.warn({ err: error, name }, "disk tier: a file could not be indexed");
    }
  }

  /** New head for the object under `key`; false when there is none (or it failed). */
  async replaceHead(key: string, head: RecordHead, fromFile: boolean): Promise<boolean> {
    const name = recordName(key);
    try {
      const replaced = await this.#locks.run(name, () =>
        this.#replaceHead(name, key, head, fromFile),
      );
      if (replaced) await this.evictOverBudget();
      return replaced;
    } catch (error) {
      this.#log?.warn({ err: error, key }, "disk tier: replacing a head failed");
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    const name = recordName(key);
    await this.#locks.run(name, async () => {
      const entry = this.#index.get(name);
      if (entry === undefined || entry.key === key) await this.#removeFile(name, null, "delete");
    });
  }

  /**
   * Remove every record: the indexed ones at once from the index, then their files; then
   * a walk removes any file not indexed (one a stopped rebuild had not reached). What is
   * written meanwhile stays.
   */
  async clear(stopped: () => boolean): Promise<void> {
    const entries = this.#index.all();
    for (const entry of entries) this.#index.remove(entry);
    await inBatches(entries, BATCH, (entry) =>
      this.#locks.run(entry.name, () => this.#removeFile(entry.name, entry.ino, "delete")),
    );
    const visit = (name: string) =>
      this.#locks.run(name, async () => {
        if (!this.#index.has(name)) await this.#removeFile(name, null, "delete");
      });
    await forEachRecordFile(this.#dir, BATCH, visit, stopped);
  }

  /** Remove what a bounded look at the index finds expired. */
  sweep(): void {
    for (const entry of this.#index.expired(this.#now(), SWEEP_BATCH)) {
      void this.expire(entry, entry.ino);
    }
  }

  /** Delete the least recently used files until the budget is kept. */
  async evictOverBudget(): Promise<void> {
    const removals: Promise<void>[] = [];
    while (this.#index.bytes > this.#maxBytes) {
      const oldest = this.#index.oldest();
      if (oldest === undefined) break;
      this.#index.remove(oldest);
      const reason = this.#now() >= oldest.deleteAt ? "expire" : "evict";
      removals.push(
        this.#locks.run(oldest.name, () => this.#removeFile(oldest.name, oldest.ino, reason)),
      );
    }
    await Promise.all(removals);
  }

  /** Settles once no change to any file is queued or running. */
  idle(): Promise<void> {
    return this.#locks.idle();
  }

  /**
   * Rename a complete temp file into place under the record's lock, index it and tell
   * the events; then evict down to the budget, outside the lock (an eviction takes the
   * locks of the files it removes). False when the file alone is over the budget.
   */
  async install(record: RecordDescription, tempPath: string, file: WrittenFile): Promise<boolean> {
    if (costOf(file.fileSize) > this.#maxBytes) return false;
    const name = recordName(record.key);
    await this.#locks.run(name, async () => {
      const path = recordPath(this.#dir, name);
      const old = this.#events.length > 0 ? await describeFile(path) : null;
      await this.#renameInto(tempPath, name, path, true);
      this.#indexFile(name, record, file);
      if (old?.kind === "found" && old.file.record.kind === "object") {
        this.#tell(old.file.record.key, old.file.record.head, "replace");
      }
      if (record.kind === "object") this.#tell(record.key, record.head, null);
    });
    await this.evictOverBudget();
    return true;
  }

  async #renameInto(tempPath: string, name: string, path: string, retry: boolean): Promise<void> {
    const folder = recordFolder(name);
    if (!this.#folders.has(folder)) {
      await mkdir(join(this.#dir, folder), { recursive: true });
      this.#folders.add(folder);
    }
    try {
      await rename(tempPath, path);
    } catch (error) {
      // The folder was removed from under the tier: make it again, once.
      if (!retry || (error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      this.#folders.delete(folder);
      await this.#renameInto(tempPath, name, path, false);
    }
  }

  #indexFile(name: string, record: RecordDescription, file: WrittenFile): IndexEntry {
    const { key, kind, deleteAt } = record;
    const entry = { key, name, kind, deleteAt, cost: costOf(file.fileSize), ino: file.ino };
    this.#index.set(entry);
    return entry;
  }

  /** Remove the record of `entry`, past its deleteAt, if its file is still `ino`. */
  async expire(entry: IndexEntry, ino: number): Promise<void> {
    this.#index.remove(entry);
    await this.#locks.run(entry.name, () => this.#removeFile(entry.name, ino, "expire"));
  }

  /**
   * Remove the file `name` (under its lock), if it is still the file `ino` (any file,
   * when null), and tell the events what left. Never rejects.
   */
  async #removeFile(name: string, ino: number | null, reason: RemovalReason): Promise<void> {
    const path = recordPath(this.#dir, name);
    try {
      const found = await describeFile(path);
      const fileIno =
        found.kind === "found"
          ? found.file.ino
          : found.kind === "damaged"
            ? found.damage.ino
            : null;
      if (ino !== null && fileIno !== ino) return;
      if (found.kind !== "missing") await unlink(path);
      const entry = this.#index.get(name);
      if (entry !== undefined && (fileIno === null || entry.ino === fileIno)) {
        this.#index.remove(entry);
      }
      if (found.kind === "found" && found.file.record.kind === "object") {
        this.#tell(found.file.record.key, found.file.record.head, reason);
      }
    } catch (error) {
      // A file that cannot be removed (a read-only disk) is still never served: the index
      // no longer has it. A restart would find it again.
      const entry = this.#index.get(name);
      if (entry !== undefined) this.#index.remove(entry);
      this.#log?.warn({ err: error, file: path }, "disk tier: a file could not be removed");
    }
  }

  /** A damaged file was found: count it, and remove it unless it was replaced meanwhile. */
  async damaged(name: string, damage: Damage): Promise<void> {
    await this.#locks.run(name, () => this.#dropDamaged(name, damage));
  }

  /**
   * Under the file's lock. The events are told when the description is intact (only the
   * body failed its check), so the purge index forgets the key.
   */
  async #dropDamaged(name: string, damage: Damage): Promise<void> {
    const path = recordPath(this.#dir, name);
    this.#corrupt++;
    this.#log?.warn({ file: path, reason: damage.reason }, "disk tier: a damaged file removed");
    let record = damage.record;
    try {
      if (record === null) {
        const found = await describeFile(path);
        if (found.kind === "found" && recordName(found.file.record.key) === name) {
          record = found.file.record;
        }
      }
      if ((await lstat(path)).ino !== damage.ino) return;
      await unlink(path);
    } catch {
      // Gone already, or not removable: either way the index forgets it.
    }
    const entry = this.#index.get(name);
    if (entry !== undefined && entry.ino === damage.ino) this.#index.remove(entry);
    if (record?.kind === "object") this.#tell(record.key, record.head, "delete");
  }

  /** Tell every listener; one that throws is logged, never the caller's problem. */
  #tell(key: string, head: RecordHead, reason: RemovalReason | null): void {
    for (const listener of this.#events) {
      try {
        if (reason === null) listener.stored(key, head);
        else listener.removed(key, head, reason);
      } catch (error) {
        this.#log?.warn({ err: error, key }, "disk tier: an event listener threw");
      }
    }
  }

  /**
   * A new head without the body passing through memory: the description follows the body
   * (store/disk-format.ts), so the file is copied by the kernel, the copy given the new
   * description and renamed over the original. A head that cannot be written (the disk
   * is down) is not left to be served under the old one: the record is removed.
   */
  async #replaceHead(
    name: string,
    key: string,
    head: RecordHead,
    fromFile: boolean,
  ): Promise<boolean> {
    const entry = this.#index.get(name) ?? (fromFile ? await this.#adopt(name) : undefined);
    if (entry === undefined || entry.key !== key || entry.kind !== "object") return false;
    if (this.#now() >= entry.deleteAt) {
      await this.#removeFile(name, null, "expire");
      return false;
    }
    const path = recordPath(this.#dir, name);
    const found = await describeFile(path);
    if (found.kind === "missing") this.#index.remove(entry);
    if (found.kind === "damaged") await this.#dropDamaged(name, found.damage);
    if (found.kind !== "found") return false;
    const old = found.file.record;
    if (old.kind !== "object" || old.key !== key) return false;
    const record: RecordDescription = { ...old, head, deleteAt: head.meta.deleteAt };
    const tempPath = this.#tempPath();
    try {
      if (this.#availability.down) throw new Error(`down: ${this.#availability.error}`);
      const written = await copyWithDescription(path, tempPath, record);
      await rename(tempPath, path);
      this.#indexFile(name, record, written);
    } catch (error) {
      await unlinkQuietly(tempPath);
      if (!this.#availability.down) this.#availability.failed(error);
      await this.#removeFile(name, null, "delete");
      return false;
    }
    this.#tell(key, old.head, "replace");
    this.#tell(key, head, null);
    return true;
  }

  /**
   * Index the file `name` from its description, under its lock: the rebuild, and a
   * lookup while the rebuild runs. Expired files go unannounced, damaged ones are counted.
   */
  async #adopt(name: string): Promise<IndexEntry | undefined> {
    const known = this.#index.get(name);
    if (known !== undefined) return known;
    const path = recordPath(this.#dir, name);
    const found = await describeFile(path);
    if (found.kind === "missing") return undefined;
    if (found.kind === "damaged") {
      await this.#dropDamaged(name, found.damage);
      return undefined;
    }
    const { record, ino } = found.file;
    if (recordName(record.key) !== name) {
      await this.#dropDamaged(name, { ino, reason: "key and file name differ", record: null });
      return undefined;
    }
    if (this.#now() >= record.deleteAt) {
      await unlinkQuietly(path);
      return undefined;
    }
    const entry = this.#indexFile(name, record, found.file);
    if (record.kind === "object") this.#tell(record.key, record.head, null);
    return entry;
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
