/**
 * Reading the disk tier's files (store/disk-format.ts): a file's description alone (the
 * rebuild, removals), or a record to serve. What is served is checked first: a body read
 * whole against its checksum, a larger one streamed and checked as it is sent
 * (store/disk-stream.ts). A file that fails a check is reported damaged, with what could
 * be read of it, and the tier removes it. A record found is described in full, its
 * description bytes included, for the tier to remember (store/disk-heads.ts).
 */
import { type FileHandle, open } from "node:fs/promises";
import { crc32 } from "node:zlib";
import {
  DamagedRecord,
  descriptionBytes,
  type RecordDescription,
  readBody,
  readDescription,
} from "./disk-format.ts";

/** A file's description, and which file it is. */
export interface DescribedFile {
  readonly record: RecordDescription;
  readonly fileSize: number;
  readonly ino: number;
}

export interface Damage {
  readonly ino: number;
  readonly reason: string;
  /** The description, when it was intact and only the body is not. */
  readonly record: RecordDescription | null;
}

export type Described =
  | { readonly kind: "found"; readonly file: DescribedFile }
  | { readonly kind: "missing" }
  | { readonly kind: "damaged"; readonly damage: Damage };

/** A record found intact: its description, parsed and as bytes, and its body if read. */
export interface FoundFile extends DescribedFile {
  /** Key, head and footer as they are on disk. */
  readonly description: Buffer;
  /** The body, read whole and checked; null when it is left to stream (or a vary record). */
  readonly body: Buffer | null;
}

export type Read =
  | { readonly kind: "found"; readonly file: FoundFile }
  | { readonly kind: "missing" }
  | { readonly kind: "expired"; readonly ino: number }
  | { readonly kind: "damaged"; readonly damage: Damage };

/** The description of the file at `path`. */
export async function describeFile(path: string): Promise<Described> {
  return withFile(path, async (handle, ino, size) => {
    const { record } = await readDescription(handle, size);
    return { kind: "found", file: { record, fileSize: size, ino } };
  });
}

export interface ReadRequest {
  readonly path: string;
  readonly key: string;
  readonly now: number;
  /** Bodies up to this size are read whole and checked; larger ones are left to stream. */
  readonly wholeMaxBytes: number;
}

/** The record in the file at `path`, checked, for `key`. */
export async function readRecord(request: ReadRequest): Promise<Read> {
  const { path, key } = request;
  return withFile(path, async (handle, ino, size, found) => {
    const read = await readDescription(handle, size);
    const record = read.record;
    if (record.key !== key) throw new DamagedRecord("the file holds another key");
    found(record);
    if (request.now >= record.deleteAt) return { kind: "expired", ino };
    let body: Buffer | null = null;
    if (record.kind === "object" && record.bodyLength <= request.wholeMaxBytes) {
      body = await readBody(handle, read);
      if (crc32(body) !== record.bodyCrc) throw new DamagedRecord("body checksum");
    }
    const description = descriptionBytes(read);
    return { kind: "found", file: { record, fileSize: size, ino, description, body } };
  });
}

/**
 * Open `path`, run `task` with the open file, its inode and size, and close it. A file
 * that is not there is "missing"; a DamagedRecord thrown is "damaged", with the
 * description `task` reported finding before it, if any.
 */
async function withFile<T>(
  path: string,
  task: (
    handle: FileHandle,
    ino: number,
    size: number,
    found: (record: RecordDescription) => void,
  ) => Promise<T>,
): Promise<
  T | { readonly kind: "missing" } | { readonly kind: "damaged"; readonly damage: Damage }
> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
    throw error;
  }
  let ino = 0;
  let record: RecordDescription | null = null;
  try {
    const stat = await handle.stat();
    ino = stat.ino;
    return await task(handle, ino, stat.size, (intact) => {
      record = intact;
    });
  } catch (error) {
    if (!(error instanceof DamagedRecord)) throw error;
    return { kind: "damaged", damage: { ino, reason: error.message, record } };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
