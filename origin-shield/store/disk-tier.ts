/**
 * The disk tier (store/lower-tier.ts): this node's own cache on local disk, in the
 * manner of nginx's proxy_cache. One file per record (store/disk-format.ts), an index in
 * memory of what is on disk (store/disk-index.ts), and a byte budget kept by deleting
 * the least recently used files.
 *
 * It survives a restart: `open` returns at once and the index is rebuilt in the
 * background from each file's description, never its body (store/disk-scan.ts), while
 * the node serves. Until the rebuild is over, a key not yet indexed is looked for in its
 * file directly: the file's name is the key's hash.
 *
 * Writes are atomic (a temp file in the tier's own folder, renamed into place), and what
 * is served is checked first (store/disk-read.ts): a damaged file is removed, counted and
 * never served. A full or unwritable disk takes the tier down until a probe write
 * succeeds (store/disk-availability.ts); it serves what it has meanwhile. No call throws
 * or rejects: a failing disk costs a miss.
 *
 * A hit costs little more than reading its body (store/disk-lookup.ts): the description
 * of a file read lately is remembered (store/disk-heads.ts), so a small body is one read
 * of the whole file, compared and checked, with no JSON parsed; a body up to
 * `holdMaxBytes` is read whole per lookup and sent as one buffer (HeldBody,
 * store/stored-object.ts); only larger ones stream, in large chunks (store/disk-stream.ts).
 *
 * Changes to one file (a rename into place, a removal, a new head) run one at a time
 * under that file's lock. Whoever removes or replaces a file reads its description first
 * and tells the events, so each stored event has one removed event to match.
 *
 * One tier per folder: a second process on the same folder would delete the first's
 * temp files at its start-up.
 */
import { mkdir, rm, unlink } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Logger } from "pino";
import { DiskAvailability } from "./disk-availability.ts";
import { DiskFiles } from "./disk-files.ts";
import { costOf, type RecordDescription, TEMP_FOLDER } from "./disk-format.ts";
import { HeadCache } from "./disk-heads.ts";
import { DiskLookup } from "./disk-lookup.ts";
import { forEachRecordFile } from "./disk-scan.ts";
import type { FileBodyStream, StreamHost } from "./disk-stream.ts";
import { DiskWriter, type WriterHost, writeRecordFile } from "./disk-writer.ts";
import type {
  LowerRecord,
  LowerTier,
  LowerTierEvents,
  LowerTierHealth,
  LowerWriter,
  RecordHead,
} from "./lower-tier.ts";

export interface DiskTierOptions {
  /** The tier's own folder; made when missing. */
  readonly dir: string;
  /** Budget for the files, counted in the 4 KiB blocks the file system gives them. */
  readonly maxBytes: number;
  readonly maxObjectBytes: number;
  /**
   * Bodies up to this size are read whole, checked and returned as objects (kept by the
   * memory tier, which takes bodies of this size).
   */
  readonly readWholeMaxBytes: number;
  /**
   * Larger bodies up to this size are read whole too, for each lookup, and returned as a
   * HeldBody: sent as one buffer, never kept. Larger ones stream from the file; 1 MiB.
   */
  readonly holdMaxBytes?: number | undefined;
  /** Bytes of file descriptions remembered (store/disk-heads.ts); 16 MiB. */
  readonly headCacheBytes?: number | undefined;
  readonly events?: readonly LowerTierEvents[] | undefined;
  readonly log?: Logger | undefined;
  readonly now?: (() => number) | undefined;
  /** Bytes a writer may hold waiting for the disk before it gives up; 8 MiB. */
  readonly maxQueuedBytes?: number | undefined;
  /** While down, the time between probe writes; 15 s. */
  readonly retryAfterMs?: number | undefined;
  /** How often a bounded sweep removes expired records nobody asked for; 60 s. */
  readonly sweepIntervalMs?: number | undefined;
}

export interface DiskTierHealth extends LowerTierHealth {
  readonly maxBytes: number;
  readonly rebuilding: boolean;
  /** Damaged files found, and removed, since start. */
  readonly corrupt: number;
  /** Writes the disk failed since start. */
  readonly writeErrors: number;
  /** Bodies being streamed from disk: file descriptors held. */
  readonly streams: number;
  /** File descriptions remembered, and their estimated bytes. */
  readonly heads: number;
  readonly headBytes: number;
  readonly dir: string;
}

/** Files indexed at once by the rebuild, between yields. */
const REBUILD_BATCH = 16;

export class DiskTier implements LowerTier {
  readonly name = "disk";
  readonly maxObjectBytes: number;
  /** Settles when the index rebuild is over: done, or stopped by clear or close. */
  readonly ready: Promise<void>;
  readonly #dir: string;
  readonly #tempDir: string;
  readonly #maxBytes: number;
  readonly #heads: HeadCache;
  readonly #lookup: DiskLookup;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #availability: DiskAvailability;
  readonly #files: DiskFiles;
  readonly #writers = new Set<DiskWriter>();
  readonly #streams = new Set<FileBodyStream>();
  readonly #prepared: Promise<void>;
  readonly #writerHost: WriterHost;
  readonly #streamHost: StreamHost;
  readonly #sweepTimer: NodeJS.Timeout;
  #rebuilding = true;
  #closed = false;
  #generation = 0;
  #temps = 0;

  /** A tier on `options.dir`, serving at once while its index is rebuilt. */
  static open(options: DiskTierOptions): DiskTier {
    return new DiskTier(options);
  }

  constructor(options: DiskTierOptions) {
    this.#dir = options.dir;
    this.#tempDir = join(options.dir, TEMP_FOLDER);
    this.#maxBytes = options.maxBytes;
    this.maxObjectBytes = options.maxObjectBytes;
    this.#heads = new HeadCache(options.headCacheBytes ?? 16 * 1024 * 1024);
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#availability = new DiskAvailability({
      dir: this.#dir,
      tempDir: this.#tempDir,
      retryAfterMs: options.retryAfterMs ?? 15_000,
      log: options.log,
    });
    this.#files = new DiskFiles({
      dir: this.#dir,
      maxBytes: options.maxBytes,
      events: options.events ?? [],
      log: options.log,
      now: this.#now,
      availability: this.#availability,
      tempPath: () => this.#tempPath(),
      dropped: (entry) => this.#heads.dropped(entry),
    });
    this.#prepared = this.#prepare();
    this.#writerHost = {
      maxObjectBytes: options.maxObjectBytes,
      maxQueuedBytes: options.maxQueuedBytes ?? 8 * 1024 * 1024,
      prepared: this.#prepared,
      install: (file) => {
        const { key, head, bodyLength, bodyCrc } = file;
        const deleteAt = head.meta.deleteAt;
        const record: RecordDescription = {
          kind: "object",
          key,
          head,
          deleteAt,
          bodyLength,
          bodyCrc,
        };
        return this.#files.install(record, file.tempPath, file);
      },
      failed: (error) => this.#availability.failed(error),
    };
    this.#streamHost = {
      opened: (stream) => {
        if (this.#closed) return false;
        this.#streams.add(stream);
        return true;
      },
      released: (stream) => this.#streams.delete(stream),
      damaged: (source, ino, reason) => {
        void this.#files.damaged(basename(source.path), { ino, reason, record: null });
      },
    };
    this.#lookup = new DiskLookup({
      files: this.#files,
      heads: this.#heads,
      streams: this.#streamHost,
      now: this.#now,
      readWholeMaxBytes: options.readWholeMaxBytes,
      holdMaxBytes: options.holdMaxBytes ?? 1024 * 1024,
    });
    this.ready = this.#rebuild();
    this.#sweepTimer = setInterval(() => this.#files.sweep(), options.sweepIntervalMs ?? 60_000);
    this.#sweepTimer.unref();
  }

  async get(key: string): Promise<LowerRecord | undefined> {
    if (this.#closed) return undefined;
    try {
      return await this.#lookup.get(key, this.#rebuilding);
    } catch (error) {
      this.#log?.warn({ err: error, key }, "disk tier: a read failed");
      return undefined;
    }
  }

  async putVary(primary: string, fields: readonly string[], deleteAt: number): Promise<void> {
    if (this.#closed || this.#availability.down || this.#now() >= deleteAt) return;
    const tempPath = this.#tempPath();
    const record: RecordDescription = {
      kind: "vary",
      key: primary,
      fields,
      deleteAt,
      bodyLength: 0,
      bodyCrc: 0,
    };
    try {
      await this.#prepared;
      const written = await writeRecordFile(tempPath, record);
      if (await this.#files.install(record, tempPath, written)) return;
    } catch (error) {
      this.#availability.failed(error);
    }
    await unlink(tempPath).catch(() => undefined);
  }

  writer(key: string, head: RecordHead, declaredLength: number | null): LowerWriter | null {
    if (this.#closed || this.#availability.down || this.#now() >= head.meta.deleteAt) return null;
    if (declaredLength !== null) {
      if (declaredLength > this.maxObjectBytes || costOf(declaredLength) > this.#maxBytes) {
        return null;
      }
    }
    const writer = new DiskWriter(this.#writerHost, key, head, declaredLength, this.#tempPath());
    this.#writers.add(writer);
    void writer.done.then(() => this.#writers.delete(writer));
    return writer;
  }

  /** A new head, the body left where it is (store/disk-files.ts). */
  async replaceHead(key: string, head: RecordHead): Promise<boolean> {
    if (this.#closed) return false;
    return this.#files.replaceHead(key, head, this.#rebuilding);
  }

  async delete(key: string): Promise<void> {
    if (this.#closed) return;
    await this.#files.delete(key);
  }

  /** Remove every record; a rebuild still running is stopped first. */
  async clear(): Promise<void> {
    if (this.#closed) return;
    this.#generation++;
    await this.ready;
    try {
      await this.#files.clear(() => this.#closed);
    } catch (error) {
      this.#log?.warn({ err: error, dir: this.#dir }, "disk tier: clear stopped part way");
    }
  }

  health(): DiskTierHealth {
    return {
      state: this.#availability.down ? "down" : "up",
      bytes: this.#files.bytes,
      entries: this.#files.entries,
      maxBytes: this.#maxBytes,
      error: this.#availability.error,
      rebuilding: this.#rebuilding,
      corrupt: this.#files.corrupt,
      writeErrors: this.#availability.writeErrors,
      streams: this.#streams.size,
      heads: this.#heads.size,
      headBytes: this.#heads.bytes,
      dir: this.#dir,
    };
  }

  /** Stop the timers and the rebuild, drop unfinished writers, wait for what is under way. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    clearInterval(this.#sweepTimer);
    this.#availability.close();
    for (const writer of this.#writers) writer.abort();
    for (const stream of this.#streams) stream.close();
    await this.ready;
    await Promise.all([...this.#writers].map((writer) => writer.done));
    await this.#files.idle();
    this.#heads.clear();
  }

  #tempPath(): string {
    this.#temps++;
    return join(this.#tempDir, `${process.pid}-${Date.now().toString(36)}-${this.#temps}`);
  }

  /** Make the folders, and empty the temp folder of what a crash left in it. */
  async #prepare(): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true });
      await rm(this.#tempDir, { recursive: true, force: true });
      await mkdir(this.#tempDir, { recursive: true });
    } catch (error) {
      this.#availability.failed(error);
    }
  }

  /** Index every file from its description, in batches that yield (store/disk-scan.ts). */
  async #rebuild(): Promise<void> {
    const generation = this.#generation;
    const started = Date.now();
    try {
      await this.#prepared;
      const adopt = (name: string) => this.#files.adopt(name);
      const stopped = () => this.#generation !== generation;
      if (await forEachRecordFile(this.#dir, REBUILD_BATCH, adopt, stopped)) {
        const { bytes, entries } = this.health();
        const ms = Date.now() - started;
        this.#log?.info({ dir: this.#dir, entries, bytes, ms }, "disk tier: index rebuilt");
      }
    } catch (error) {
      this.#log?.warn({ err: error, dir: this.#dir }, "disk tier: the index rebuild stopped");
    } finally {
      this.#rebuilding = false;
    }
    await this.#files.evictOverBudget();
  }
}
