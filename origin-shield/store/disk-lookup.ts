/**
 * A lookup in the disk tier (store/disk-tier.ts): the index first, then the file. A file
 * whose description is remembered (store/disk-heads.ts) is read again under it: one read
 * of the whole file for a small body, a stat for one that streams, nothing for a vary
 * record. Any other file, or one no longer as remembered, is read in full
 * (store/disk-read.ts), and its description remembered when it is the file the index
 * names. What the full read finds missing, expired or damaged is dealt with as always.
 *
 * Which record a body comes back in depends on its size: up to `readWholeMaxBytes` an
 * object (the memory tier keeps those), up to `holdMaxBytes` a HeldBody read whole for
 * this lookup (store/stored-object.ts: sent as one buffer, never kept), larger a stream
 * from the file (store/disk-stream.ts).
 */
import type { DiskFiles } from "./disk-files.ts";
import { recordName } from "./disk-format.ts";
import { type HeadCache, type KnownHead, readKnownFile, statKnownFile } from "./disk-heads.ts";
import type { IndexEntry } from "./disk-index.ts";
import { type FoundFile, readRecord } from "./disk-read.ts";
import { FileBodyStream, type StreamHost, type StreamSource } from "./disk-stream.ts";
import type { LowerRecord } from "./lower-tier.ts";
import { HeldBody } from "./stored-object.ts";

export interface DiskLookupOptions {
  readonly files: DiskFiles;
  readonly heads: HeadCache;
  readonly streams: StreamHost;
  readonly now: () => number;
  readonly readWholeMaxBytes: number;
  readonly holdMaxBytes: number;
}

/** A remembered file that is no longer as remembered: the full read decides. */
const CHANGED = Symbol("changed");

export class DiskLookup {
  readonly #files: DiskFiles;
  readonly #heads: HeadCache;
  readonly #streams: StreamHost;
  readonly #now: () => number;
  readonly #readWholeMaxBytes: number;
  /** Bodies up to this size are read whole for each lookup; larger ones stream. */
  readonly #wholeMaxBytes: number;

  constructor(options: DiskLookupOptions) {
    this.#files = options.files;
    this.#heads = options.heads;
    this.#streams = options.streams;
    this.#now = options.now;
    this.#readWholeMaxBytes = options.readWholeMaxBytes;
    this.#wholeMaxBytes = Math.max(options.readWholeMaxBytes, options.holdMaxBytes);
  }

  /** The record under `key`; while `rebuilding`, a key not yet indexed is looked for. */
  async get(key: string, rebuilding: boolean): Promise<LowerRecord | undefined> {
    const known = this.#heads.get(key);
    const name = known?.entry.name ?? recordName(key);
    const entry = this.#files.indexed(name) ?? (await this.#files.lookup(name, rebuilding));
    if (entry === undefined || entry.key !== key) return undefined;
    if (this.#now() >= entry.deleteAt) {
      await this.#files.expire(entry, entry.ino);
      return undefined;
    }
    this.#files.touch(entry);
    if (known?.entry === entry) {
      const again = await this.#readKnown(known);
      if (again !== CHANGED) return again;
    }
    return this.#read(entry);
  }

  /**
   * A hit on a file whose description is remembered: a vary record as remembered, a body
   * read whole and checked, or a large body's file found unchanged.
   */
  async #readKnown(known: KnownHead): Promise<LowerRecord | undefined | typeof CHANGED> {
    const record = known.record;
    if (record.kind === "vary") return { kind: "vary", fields: record.fields };
    const read = known.streamed === null ? await readKnownFile(known) : await statKnownFile(known);
    if (read.kind === "missing") {
      this.#files.forget(known.entry);
      return undefined;
    }
    if (read.kind === "changed") return CHANGED;
    return this.#recordOf(known, read.body);
  }

  /** Read the file of `entry` in full; remember its description when it is that file. */
  async #read(entry: IndexEntry): Promise<LowerRecord | undefined> {
    const { key, name } = entry;
    const path = this.#files.pathOf(name);
    const now = this.#now();
    const read = await readRecord({ path, key, now, wholeMaxBytes: this.#wholeMaxBytes });
    if (read.kind === "found") {
      const known = this.#know(entry, path, read.file);
      // A file renamed over the entry's behind the tier's back is served, not remembered;
      // nor is one whose entry left the index while it was read.
      if (read.file.ino === entry.ino && this.#files.indexed(name) === entry) {
        this.#heads.remember(known);
      }
      return this.#recordOf(known, read.file.body);
    }
    if (read.kind === "missing") this.#files.forget(entry);
    else if (read.kind === "expired") await this.#files.expire(entry, read.ino);
    else await this.#files.damaged(name, read.damage);
    return undefined;
  }

  #know(entry: IndexEntry, path: string, file: FoundFile): KnownHead {
    const { record, ino, fileSize, description } = file;
    let streamed: KnownHead["streamed"] = null;
    if (record.kind === "object" && record.bodyLength > this.#wholeMaxBytes) {
      const { bodyLength, bodyCrc } = record;
      const source: StreamSource = { path, ino, fileSize, bodyLength, bodyCrc };
      const host = this.#streams;
      streamed = {
        size: bodyLength,
        open: (start, end) => new FileBodyStream(host, source, start, end),
      };
    }
    return { entry, record, path, ino, fileSize, description, streamed };
  }

  /** The record to return for `known`, with its body when that was read whole. */
  #recordOf(known: KnownHead, body: Buffer | null): LowerRecord {
    const record = known.record;
    if (record.kind === "vary") return { kind: "vary", fields: record.fields };
    const head = record.head;
    if (body === null) {
      if (known.streamed === null) throw new Error("a body neither read nor streamed");
      return { kind: "streamed", head, body: known.streamed };
    }
    if (body.length <= this.#readWholeMaxBytes) return { kind: "object", head, body };
    return { kind: "streamed", head, body: new HeldBody(body) };
  }
}
