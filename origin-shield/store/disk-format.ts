/**
 * The disk tier's file format (store/disk-tier.ts). One file per record, named by the
 * SHA-256 of its key in hex under a folder of the name's first two characters (256
 * folders, as nginx's `levels=2` and Squid's cache_dir spread theirs), so no folder grows
 * to millions of names and a key never needs escaping.
 *
 *   [body][key, UTF-8][head, JSON][footer, 40 bytes]
 *
 *   footer   0  magic "ESHD"            4  format version, u16 LE
 *            6  kind: 1 object, 2 vary  7  reserved, 0
 *            8  key bytes, u32 LE      12  head bytes, u32 LE
 *           16  body bytes, f64 LE     24  deleteAt, ms since the epoch, f64 LE
 *           32  CRC-32 of the body     36  CRC-32 of key, head and footer bytes 0-35
 *
 * The description follows the body instead of preceding it. A writer streams the body
 * as it arrives and appends the rest at commit, never seeking back; and a new head (a
 * 304 refresh, a soft purge) is written by copying the file in the kernel (copyFile, a
 * reflink where the file system has them), cutting the copy at the end of the body and
 * appending the new description: the body never passes through memory and stays at
 * offset 0, so a stream already reading it reads the same bytes. A file cut short loses
 * its footer, which is the first thing read. CRC-32 rather than a cryptographic hash:
 * it guards against torn writes and bad sectors, not an adversary, and zlib's runs at
 * memory speed where SHA-256 costs a millisecond per megabyte.
 */
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { RecordHead } from "./lower-tier.ts";

export const FORMAT_VERSION = 1;
export const FOOTER_BYTES = 40;
/** Written files are counted in blocks of this size against the tier's budget. */
export const BLOCK_BYTES = 4096;
/** Where writers keep files until they are complete; emptied at start-up. */
export const TEMP_FOLDER = "tmp";

const MAGIC = Buffer.from("ESHD", "latin1");
const KIND_OBJECT = 1;
const KIND_VARY = 2;
/** Read from the end of a file at once: the whole description, and small bodies with it. */
const TAIL_READ_BYTES = 16 * 1024;
/** A longer key and head than any response has: beyond it, the footer is garbage. */
const MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024;

export type RecordDescription =
  | {
      readonly kind: "object";
      readonly key: string;
      readonly head: RecordHead;
      readonly deleteAt: number;
      readonly bodyLength: number;
      readonly bodyCrc: number;
    }
  | {
      readonly kind: "vary";
      readonly key: string;
      readonly fields: readonly string[];
      readonly deleteAt: number;
      readonly bodyLength: number;
      readonly bodyCrc: number;
    };

/** A file that is not a whole, intact record: never served, removed when found. */
export class DamagedRecord extends Error {
  override readonly name = "DamagedRecord";
}

/** What reading a file's end found: its description, and the bytes read to find it. */
export interface ReadDescription {
  readonly record: RecordDescription;
  /** The last bytes of the file, from `tailStart`: the whole file when it is small. */
  readonly tail: Buffer;
  readonly tailStart: number;
}

export function recordName(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function isRecordName(text: string): boolean {
  return /^[0-9a-f]{64}$/.test(text);
}

export function recordFolder(name: string): string {
  return name.slice(0, 2);
}

export function recordPath(dir: string, name: string): string {
  return join(dir, recordFolder(name), name);
}

/** Bytes a file of `size` bytes takes on disk, as counted against the budget. */
export function costOf(size: number): number {
  return Math.ceil(Math.max(size, 1) / BLOCK_BYTES) * BLOCK_BYTES;
}

/** Key, head and footer: what follows the body (which must already have `bodyLength`). */
export function encodeDescription(record: RecordDescription): Buffer {
  const key = Buffer.from(record.key, "utf8");
  const head = Buffer.from(
    JSON.stringify(record.kind === "object" ? record.head : record.fields),
    "utf8",
  );
  const out = Buffer.allocUnsafeSlow(key.length + head.length + FOOTER_BYTES);
  key.copy(out, 0);
  head.copy(out, key.length);
  const footer = out.subarray(key.length + head.length);
  MAGIC.copy(footer, 0);
  footer.writeUInt16LE(FORMAT_VERSION, 4);
  footer.writeUInt8(record.kind === "object" ? KIND_OBJECT : KIND_VARY, 6);
  footer.writeUInt8(0, 7);
  footer.writeUInt32LE(key.length, 8);
  footer.writeUInt32LE(head.length, 12);
  footer.writeDoubleLE(record.bodyLength, 16);
  footer.writeDoubleLE(record.deleteAt, 24);
  footer.writeUInt32LE(record.bodyCrc >>> 0, 32);
  footer.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), 36);
  return out;
}

/** A whole file: body and description, as a writer leaves it (and tests build them). */
export function encodeRecord(record: RecordDescription, body: Buffer): Buffer {
  return Buffer.concat([body, encodeDescription(record)]);
}

/**
 * The description of the file open as `handle`, `size` bytes long, read from its end:
 * one read for almost every file. Throws DamagedRecord when it is not an intact record.
 */
export async function readDescription(handle: FileHandle, size: number): Promise<ReadDescription> {
  if (size < FOOTER_BYTES) throw new DamagedRecord(`${size} bytes: shorter than a footer`);
  const wanted = Math.min(size, TAIL_READ_BYTES);
  let tail = await readAt(handle, size - wanted, wanted);
  let tailStart = size - wanted;
  const footer = tail.subarray(tail.length - FOOTER_BYTES);
  if (!footer.subarray(0, 4).equals(MAGIC)) throw new DamagedRecord("no footer (bad magic)");
  const version = footer.readUInt16LE(4);
  if (version !== FORMAT_VERSION) throw new DamagedRecord(`format version ${version}`);
  const kind = footer.readUInt8(6);
  const keyBytes = footer.readUInt32LE(8);
  const headBytes = footer.readUInt32LE(12);
  const bodyLength = footer.readDoubleLE(16);
  const deleteAt = footer.readDoubleLE(24);
  const bodyCrc = footer.readUInt32LE(32);
  const description = keyBytes + headBytes + FOOTER_BYTES;
  if (
    !Number.isSafeInteger(bodyLength) ||
    bodyLength < 0 ||
    description > MAX_DESCRIPTION_BYTES ||
    bodyLength + description !== size
  ) {
    throw new DamagedRecord(
      `length: ${size} bytes, the footer says ${bodyLength} + ${description}`,
    );
  }
  if (description > tail.length) {
    tail = await readAt(handle, bodyLength, description);
    tailStart = bodyLength;
  }
  const region = tail.subarray(bodyLength - tailStart);
  if (crc32(region.subarray(0, region.length - 4)) !== region.readUInt32LE(region.length - 4)) {
    throw new DamagedRecord("description checksum");
  }
  const key = region.toString("utf8", 0, keyBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(region.toString("utf8", keyBytes, keyBytes + headBytes));
  } catch {
    throw new DamagedRecord("head is not JSON");
  }
  const common = { key, deleteAt, bodyLength, bodyCrc };
  if (kind === KIND_OBJECT && isRecordHead(parsed)) {
    return { record: { kind: "object", head: parsed, ...common }, tail, tailStart };
  }
  if (kind === KIND_VARY && bodyLength === 0 && isFieldList(parsed)) {
    return { record: { kind: "vary", fields: parsed, ...common }, tail, tailStart };
  }
  throw new DamagedRecord(`kind ${kind} with a head that does not fit it`);
}

/**
 * The body of a file whose description was just read: taken from the tail when that
 * read covered the whole file, else read. An exact buffer either way, so a body kept in
 * memory afterwards (promoted to the memory tier) pins nothing else.
 */
export async function readBody(handle: FileHandle, read: ReadDescription): Promise<Buffer> {
  const length = read.record.bodyLength;
  if (read.tailStart === 0) {
    const body = Buffer.allocUnsafeSlow(length);
    read.tail.copy(body, 0, 0, length);
    return body;
  }
  return readAt(handle, 0, length, true);
}

/**
 * The key, head and footer bytes of a file whose description was just read, in a buffer
 * of their own: kept to recognise the same description in a later read of the file
 * (store/disk-heads.ts), without pinning the rest of the tail.
 */
export function descriptionBytes(read: ReadDescription): Buffer {
  const from = read.record.bodyLength - read.tailStart;
  const out = Buffer.allocUnsafeSlow(read.tail.length - from);
  read.tail.copy(out, 0, from);
  return out;
}

/** Exactly `length` bytes at `position`; a file that ends first is damaged. */
async function readAt(
  handle: FileHandle,
  position: number,
  length: number,
  exact = false,
): Promise<Buffer> {
  const out = exact ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw new DamagedRecord("the file ends early");
    done += bytesRead;
  }
  return out;
}

/** Write all of `data` at `position` (the kernel may take a regular file's write in parts). */
export async function writeAllAt(
  handle: FileHandle,
  data: Buffer,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    if (bytesWritten === 0) throw new Error("the disk took no bytes");
    done += bytesWritten;
  }
}

function isRecordHead(value: unknown): value is RecordHead {
  if (typeof value !== "object" || value === null) return false;
  const { meta, id } = value as { meta?: unknown; id?: unknown };
  if (typeof meta !== "object" || meta === null || typeof id !== "object" || id === null) {
    return false;
  }
  const { headers, deleteAt } = meta as { headers?: unknown; deleteAt?: unknown };
  const { url, primary } = id as { url?: unknown; primary?: unknown };
  return (
    Array.isArray(headers) &&
    typeof deleteAt === "number" &&
    typeof url === "string" &&
    typeof primary === "string"
  );
}

function isFieldList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((field) => typeof field === "string");
}
