/**
 * A stored body read from its file as it is sent (store/disk-tier.ts): for bodies too
 * large to hold in memory. The file is opened only when the stream is first read, so a
 * body that is never sent (a HEAD, a 304) costs no file descriptor, and it is read in
 * 256 KiB chunks only as fast as the client takes them: each chunk costs a read on
 * libuv's thread pool and a turn of the send loop whatever its size, so larger chunks
 * spread that over more bytes; a stream still holds about one chunk at a time.
 *
 * A stream that covers the whole body checks its CRC-32 before handing over the last
 * chunk: on a mismatch that chunk is withheld and the stream throws, so the client sees
 * a transfer cut short of its Content-Length (RFC 9112 §6.3: an incomplete message)
 * rather than one that ends as if complete with damaged bytes. A range cannot be checked
 * against the checksum of the whole; its length is.
 */
import { type FileHandle, open } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { DamagedRecord, readDescription } from "./disk-format.ts";

const CHUNK_BYTES = 256 * 1024;

/** The file a stream reads, as it was when the record was looked up. */
export interface StreamSource {
  readonly path: string;
  readonly ino: number;
  readonly fileSize: number;
  readonly bodyLength: number;
  readonly bodyCrc: number;
}

/** The tier behind a stream: it counts open files and removes damaged ones. */
export interface StreamHost {
  /** False once the tier is closed: the stream then fails instead of opening a file. */
  opened(stream: FileBodyStream): boolean;
  released(stream: FileBodyStream): void;
  damaged(source: StreamSource, ino: number, reason: string): void;
}

export class FileBodyStream implements AsyncIterable<Buffer> {
  readonly #host: StreamHost;
  readonly #source: StreamSource;
  readonly #start: number;
  readonly #end: number;
  #handle: FileHandle | null = null;
  #started = false;
  #closed = false;
  #reading = false;

  /** Bytes `start`..`end` inclusive of the body in `source`. */
  constructor(host: StreamHost, source: StreamSource, start: number, end: number) {
    this.#host = host;
    this.#source = source;
    this.#start = Math.max(0, start);
    this.#end = Math.min(end, source.bodyLength - 1);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const source = this.#source;
    const handle = await open(source.path, "r");
    this.#handle = handle;
    try {
      if (!this.#host.opened(this)) throw new Error("the disk tier is closed");
      if (this.#closed) return;
      await this.#checkSameBody(handle);
      const whole = this.#start === 0 && this.#end === source.bodyLength - 1;
      let at = this.#start;
      let crc = 0;
      while (at <= this.#end) {
        if (this.#closed) return;
        const want = Math.min(CHUNK_BYTES, this.#end - at + 1);
        const buffer = Buffer.allocUnsafe(want);
        this.#reading = true;
        const { bytesRead } = await handle.read(buffer, 0, want, at).finally(() => {
          this.#reading = false;
        });
        if (this.#closed) return;
        if (bytesRead === 0) this.#damaged(source.ino, "the body ends early");
        const chunk = bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
        at += bytesRead;
        if (whole) {
          crc = crc32(chunk, crc);
          if (at > this.#end && crc !== source.bodyCrc) {
            this.#damaged(source.ino, "body checksum");
          }
        }
        yield chunk;
      }
    } finally {
      await this.#release();
    }
  }

  /** Stop reading and release the file; a read in progress releases it when it returns. */
  close(): void {
    this.#closed = true;
    if (!this.#reading) void this.#release();
  }

  /**
   * The path may name another file by now. A new head (replaceHead) leaves the body as
   * it was, at the same offset, with the same checksum: that file serves as well. A file
   * with another body does not, and the same file grown or shrunk is damaged.
   */
  async #checkSameBody(handle: FileHandle): Promise<void> {
    const source = this.#source;
    const stat = await handle.stat();
    if (stat.ino === source.ino) {
      if (stat.size !== source.fileSize) this.#damaged(stat.ino, "the file changed length");
      return;
    }
    let same = false;
    try {
      const { record } = await readDescription(handle, stat.size);
      same = record.bodyLength === source.bodyLength && record.bodyCrc === source.bodyCrc;
    } catch (error) {
      if (error instanceof DamagedRecord) this.#damaged(stat.ino, error.message);
      throw error;
    }
    if (!same) throw new Error("the stored body was replaced while it was being sent");
  }

  #damaged(ino: number, reason: string): never {
    this.#host.damaged(this.#source, ino, reason);
    throw new DamagedRecord(`stored body damaged: ${reason}`);
  }

  async #release(): Promise<void> {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    this.#closed = true;
    this.#host.released(this);
    await handle.close().catch(() => undefined);
  }
}
