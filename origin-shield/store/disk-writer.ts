/**
 * A body written to the disk tier as it arrives (store/disk-tier.ts). Chunks are copied
 * into staging buffers (the caller may reuse its chunk) and written to a temp file in
 * the tier's own folder, one write at a time, while the CRC-32 is kept up to date; at
 * commit the description is appended (store/disk-format.ts) and the tier renames the
 * file into place, so a reader sees the old record or the new one, never a part.
 *
 * What waits for the disk is bounded: a body that arrives faster than the disk takes it
 * (a slow or stalled disk, a fast origin) is given up once more than `maxQueuedBytes`
 * wait, rather than growing in memory until the process dies. The response is still
 * sent to its clients; it is only not stored here.
 */
import { constants } from "node:fs";
import { copyFile, type FileHandle, open, unlink } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { encodeDescription, type RecordDescription, writeAllAt } from "./disk-format.ts";
import type { LowerWriter, RecordHead } from "./lower-tier.ts";

/** Large enough that a big body costs few writes, small enough to hold many of. */
const STAGE_BYTES = 128 * 1024;

/** A complete temp file, ready to be renamed into place. */
export interface FinishedFile {
  readonly key: string;
  readonly head: RecordHead;
  readonly tempPath: string;
  readonly bodyLength: number;
  readonly bodyCrc: number;
  readonly fileSize: number;
  readonly ino: number;
}

/** What a writer needs of its tier. */
export interface WriterHost {
  readonly maxObjectBytes: number;
  readonly maxQueuedBytes: number;
  /** Settles once the temp folder may be written to (start-up clean-up done). */
  readonly prepared: Promise<void>;
  /** Rename the file into place and index it; true once it is visible. */
  install(file: FinishedFile): Promise<boolean>;
  /** A write to the disk failed (a full or unwritable disk takes the tier down). */
  failed(error: unknown): void;
}

export class DiskWriter implements LowerWriter {
  readonly #host: WriterHost;
  readonly #key: string;
  readonly #head: RecordHead;
  readonly #declared: number | null;
  readonly #tempPath: string;
  #state: "open" | "committing" | "done" = "open";
  #failed = false;
  #handle: FileHandle | null = null;
  #written = 0;
  #stage: Buffer | null = null;
  #staged = 0;
  readonly #queue: Buffer[] = [];
  /** Accepted and not yet on disk, staged bytes included. */
  #waiting = 0;
  #length = 0;
  #crc = 0;
  #pump: Promise<void> | null = null;
  #cleanup: Promise<void> | null = null;
  #settle!: () => void;
  /** Settles when the writer is finished with: committed, or its temp file removed. */
  readonly done: Promise<void>;

  constructor(
    host: WriterHost,
    key: string,
    head: RecordHead,
    declared: number | null,
    tempPath: string,
  ) {
    this.#host = host;
    this.#key = key;
    this.#head = head;
    this.#declared = declared;
    this.#tempPath = tempPath;
    this.done = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  write(chunk: Buffer): boolean {
    if (this.#state !== "open" || this.#failed) return false;
    const length = this.#length + chunk.length;
    const declared = this.#declared;
    if (
      length > this.#host.maxObjectBytes ||
      (declared !== null && length > declared) ||
      this.#waiting + chunk.length > this.#host.maxQueuedBytes
    ) {
      this.#giveUp();
      return false;
    }
    this.#length = length;
    this.#waiting += chunk.length;
    this.#crc = crc32(chunk, this.#crc);
    let from = 0;
    while (from < chunk.length) {
      let stage = this.#stage;
      if (stage === null) {
        const left = declared === null ? STAGE_BYTES : declared - (length - chunk.length + from);
        stage = Buffer.allocUnsafeSlow(Math.max(1, Math.min(STAGE_BYTES, left)));
        this.#stage = stage;
      }
      const copied = chunk.copy(stage, this.#staged, from);
      this.#staged += copied;
      from += copied;
      if (this.#staged === stage.length) this.#flushStage();
    }
    return true;
  }

  async commit(): Promise<boolean> {
    if (this.#state !== "open") return false;
    this.#state = "committing";
    let stored = false;
    try {
      if (this.#failed) return false;
      if (this.#declared !== null && this.#length !== this.#declared) return false;
      this.#flushStage();
      this.#kick(); // opens the file even for an empty body
      while (this.#pump !== null) await this.#pump;
      const handle = this.#handle;
      if (this.#failed || handle === null) return false;
      await writeAllAt(
        handle,
        encodeDescription({
          kind: "object",
          key: this.#key,
          head: this.#head,
          deleteAt: this.#head.meta.deleteAt,
          bodyLength: this.#length,
          bodyCrc: this.#crc,
        }),
        this.#written,
      );
      const stat = await handle.stat();
      this.#handle = null;
      await handle.close();
      stored = await this.#host.install({
        key: this.#key,
        head: this.#head,
        tempPath: this.#tempPath,
        bodyLength: this.#length,
        bodyCrc: this.#crc,
        fileSize: stat.size,
        ino: stat.ino,
      });
      return stored;
    } catch (error) {
      this.#host.failed(error);
      return false;
    } finally {
      this.#state = "done";
      if (stored) this.#settle();
      else await this.#giveUp();
    }
  }

  abort(): void {
    if (this.#state !== "open") return;
    this.#state = "done";
    void this.#giveUp();
  }

  /** Drop what is queued, and once the pump stops, the temp file. Idempotent. */
  #giveUp(): Promise<void> {
    this.#failed = true;
    this.#queue.length = 0;
    this.#stage = null;
    this.#waiting = 0;
    this.#cleanup ??= this.#removeTemp();
    return this.#cleanup;
  }

  async #removeTemp(): Promise<void> {
    while (this.#pump !== null) await this.#pump;
    const handle = this.#handle;
    this.#handle = null;
    if (handle !== null) await handle.close().catch(() => undefined);
    await unlink(this.#tempPath).catch(() => undefined);
    this.#settle();
  }

  #flushStage(): void {
    const stage = this.#stage;
    if (stage === null) return;
    this.#queue.push(this.#staged === stage.length ? stage : stage.subarray(0, this.#staged));
    this.#stage = null;
    this.#staged = 0;
    this.#kick();
  }

  #kick(): void {
    this.#pump ??= this.#drain();
  }

  /** Write the queue to the temp file, one buffer at a time, until it is empty. */
  async #drain(): Promise<void> {
    try {
      await this.#host.prepared;
      if (this.#failed) return;
      this.#handle ??= await open(this.#tempPath, "wx");
      for (let next = this.#queue[0]; next !== undefined; next = this.#queue[0]) {
        await writeAllAt(this.#handle, next, this.#written);
        if (this.#failed) return;
        this.#written += next.length;
        this.#queue.shift();
        this.#waiting -= next.length;
      }
    } catch (error) {
      if (!this.#failed) this.#host.failed(error);
      void this.#giveUp();
    } finally {
      this.#pump = null;
    }
  }
}

/** Where a file written whole now is, and which file it is. */
export interface WrittenFile {
  readonly fileSize: number;
  readonly ino: number;
}

/** A record with no body (a vary record), written whole to `tempPath`. */
export async function writeRecordFile(
  tempPath: string,
  record: RecordDescription,
): Promise<WrittenFile> {
  const handle = await open(tempPath, "wx");
  try {
    await writeAllAt(handle, encodeDescription(record), 0);
    const stat = await handle.stat();
    return { fileSize: stat.size, ino: stat.ino };
  } finally {
    await handle.close();
  }
}

/**
 * The file at `path` copied to `tempPath` with `record`'s description in place of its
 * own. The copy is the kernel's (copy_file_range, or a reflink where the file system has
 * them: COPYFILE_FICLONE falls back to a copy), so the body never enters memory; the copy
 * is then cut at the end of the body and the new description written there.
 */
export async function copyWithDescription(
  path: string,
  tempPath: string,
  record: RecordDescription,
): Promise<WrittenFile> {
  await copyFile(path, tempPath, constants.COPYFILE_FICLONE);
  const description = encodeDescription(record);
  const handle = await open(tempPath, "r+");
  try {
    await writeAllAt(handle, description, record.bodyLength);
    await handle.truncate(record.bodyLength + description.length);
    const stat = await handle.stat();
    return { fileSize: stat.size, ino: stat.ino };
  } finally {
    await handle.close();
  }
}
