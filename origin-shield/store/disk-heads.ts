/**
 * What the disk tier (store/disk-tier.ts) remembers of the files it read lately: each
 * one's description, parsed, and its bytes as they are on disk. A hit on such a file then
 * neither reads the description again nor parses its JSON head, and it hands back the
 * same head object every time, so what is built from a head (the StoredObject's shape in
 * store/tiered-store.ts, the field list in respond.ts) is built once per file rather
 * than once per hit.
 *
 * A remembered head holds while the index holds the very entry it was read under. A file
 * renamed into place, a new head, a removal (delete, purge, eviction, expiry, damage)
 * each replace or remove that entry, and the index says so (store/disk-index.ts): the
 * head is forgotten at once, never served again. The file of an object is still read on
 * every hit: a small body whole, in one read, compared with the remembered description
 * and checked against its checksum; a large one's file looked up (stat) before it
 * streams, and checked as it streams (store/disk-stream.ts). A file damaged, cut short,
 * replaced or removed behind the tier's back is therefore noticed as before: anything
 * unexpected sends the hit to the full read, which decides what the file is and removes
 * it if damaged. (A vary record, a list of field names, is answered as remembered.)
 *
 * Bounded by bytes (an estimate of what a head costs in memory), least recently used
 * forgotten first.
 */
import { close, open, readv, stat } from "node:fs";
import { crc32 } from "node:zlib";
import type { RecordDescription } from "./disk-format.ts";
import type { IndexEntry } from "./disk-index.ts";
import type { StreamedBody } from "./lower-tier.ts";

/** One file's description, as read under its index entry. */
export interface KnownHead {
  /** The index entry it was read under: it holds while the index holds this entry. */
  readonly entry: IndexEntry;
  readonly record: RecordDescription;
  readonly path: string;
  readonly ino: number;
  readonly fileSize: number;
  /** Key, head and footer as they are on disk, to recognise them in a later read. */
  readonly description: Buffer;
  /** A body too large to read whole per hit: the StreamedBody every hit shares. */
  readonly streamed: StreamedBody | null;
}

/** What reading a file again, for a remembered head, found. */
export type KnownRead =
  /** The same description, and a body that passes its checksum (null when not read). */
  | { readonly kind: "same"; readonly body: Buffer | null }
  | { readonly kind: "missing" }
  /** Anything else: the full read decides what the file now is. */
  | { readonly kind: "changed" };

/**
 * What a remembered head costs, measured rather than guessed: its description bytes, the
 * head parsed from them, the objects around it and the StoredObject shape the tiered
 * store keeps while the head lives came to 4,270 bytes of heap and external memory for
 * a 762-byte description (the shape of a typical response's head), 8,100 for one of
 * 1,688 bytes: about 1,200 bytes and four per description byte.
 */
const HEAD_OVERHEAD = 1_200;
const PER_DESCRIPTION_BYTE = 4;

export function headCost(known: KnownHead): number {
  return HEAD_OVERHEAD + known.description.length * PER_DESCRIPTION_BYTE;
}

export class HeadCache {
  readonly #maxBytes: number;
  /** By key; the Map's order is recency, least recently used first. */
  readonly #heads = new Map<string, { known: KnownHead; cost: number }>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#heads.size;
  }

  /** The head remembered for `key`, now the most recently used. */
  get(key: string): KnownHead | undefined {
    const kept = this.#heads.get(key);
    if (kept === undefined) return undefined;
    this.#heads.delete(key);
    this.#heads.set(key, kept);
    return kept.known;
  }

  remember(known: KnownHead): void {
    const cost = headCost(known);
    const key = known.entry.key;
    this.#forget(key);
    if (cost > this.#maxBytes) return;
    this.#heads.set(key, { known, cost });
    this.#bytes += cost;
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#heads.keys().next();
      if (oldest.done === true) break;
      this.#forget(oldest.value);
    }
  }

  /** The index no longer holds `entry`: forget its head, if that is the one remembered. */
  dropped(entry: IndexEntry): void {
    if (this.#heads.get(entry.key)?.known.entry === entry) this.#forget(entry.key);
  }

  clear(): void {
    this.#heads.clear();
    this.#bytes = 0;
  }

  #forget(key: string): void {
    const kept = this.#heads.get(key);
    if (kept === undefined) return;
    this.#heads.delete(key);
    this.#bytes -= kept.cost;
  }
}

/**
 * The whole file of `known` in one positioned read (a readv: the body into a buffer of
 * its own, so that one kept in memory afterwards pins nothing else, and the rest beside
 * it), with callbacks rather than a FileHandle's promise per step. "same" only when the
 * file is exactly as long as it was, ends in the same description, and its body passes
 * the checksum: then it is the record remembered, whichever file it is.
 */
export function readKnownFile(known: KnownHead): Promise<KnownRead> {
  return new Promise((resolve) => {
    open(known.path, "r", (openError, fd) => {
      if (openError !== null) {
        resolve(openError.code === "ENOENT" ? MISSING : CHANGED);
        return;
      }
      const description = known.description;
      const body = Buffer.allocUnsafeSlow(known.record.bodyLength);
      // One byte more than the description: a file that grew is not the same file.
      const rest = Buffer.allocUnsafe(description.length + 1);
      readv(fd, [body, rest], 0, (readError, bytesRead) => {
        close(fd, ignore);
        const same =
          readError === null &&
          bytesRead === known.fileSize &&
          rest.compare(description, 0, description.length, 0, description.length) === 0 &&
          crc32(body) === known.record.bodyCrc;
        resolve(same ? { kind: "same", body } : CHANGED);
      });
    });
  });
}

/**
 * Whether the file of `known` is still there, the same file (inode) and as long: for a
 * body streamed from it, which is checked as it streams.
 */
export function statKnownFile(known: KnownHead): Promise<KnownRead> {
  return new Promise((resolve) => {
    stat(known.path, (error, stats) => {
      if (error !== null) resolve(error.code === "ENOENT" ? MISSING : CHANGED);
      else if (stats.ino === known.ino && stats.size === known.fileSize) resolve(UNREAD);
      else resolve(CHANGED);
    });
  });
}

const MISSING: KnownRead = { kind: "missing" };
const CHANGED: KnownRead = { kind: "changed" };
const UNREAD: KnownRead = { kind: "same", body: null };

function ignore(): void {}
