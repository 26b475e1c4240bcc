/**
 * One origin body, many readers. The fill pushes chunks as they arrive and every reader
 * gets each chunk as soon as it is pushed, so a collapsed follower starts receiving bytes
 * with the leader, not after the whole body (what nginx's proxy_cache_lock cannot do).
 *
 * While the response is being stored every chunk is kept (the store needs them all, and
 * late joiners start from byte 0). Once it is known not to be stored (too large, not
 * shareable), chunks every reader has passed are dropped and the fill waits for the
 * slowest reader when more than HIGH_WATER bytes are unread, so memory stays bounded.
 * A reader that leaves (client gone) never stops the fill for the others.
 */

const HIGH_WATER = 4 * 1024 * 1024;

export class BodyBuffer {
  readonly #chunks: Buffer[] = [];
  /** Chunks dropped from the front (absolute index of #chunks[0]). */
  #dropped = 0;
  #droppedBytes = 0;
  #bytes = 0;
  #done = false;
  #error: Error | null = null;
  #retain = true;
  readonly #readers = new Set<Cursor>();
  #wake: (() => void)[] = [];
  #drain: (() => void) | null = null;
  #settled: Promise<void> | null = null;
  #settle: (() => void) | null = null;

  get bytes(): number {
    return this.#bytes;
  }

  get readers(): number {
    return this.#readers.size;
  }

  get finished(): boolean {
    return this.#done || this.#error !== null;
  }

  /** Stop keeping chunks for the store: drop what every reader has passed. */
  release(): void {
    this.#retain = false;
    this.#trim();
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    this.#notify();
  }

  end(): void {
    this.#done = true;
    this.#notify();
    this.#settle?.();
  }

  fail(err: Error): void {
    if (this.finished) return;
    this.#error = err;
    this.#notify();
    this.#settle?.();
  }

  /** Resolves once the body has ended or failed. */
  settled(): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.#settled ??= new Promise<void>((resolve) => {
      this.#settle = resolve;
    });
    return this.#settled;
  }

  /**
   * The whole body as one buffer, without a copy: when it ended, every chunk was kept,
   * and the chunks are consecutive views of one buffer (what a tier that stores a body
   * of declared length hands the fill). Otherwise null.
   */
  whole(): Buffer | null {
    if (!this.#done || this.#error !== null || this.#dropped !== 0) return null;
    const first = this.#chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    let at = first.byteOffset;
    for (const chunk of this.#chunks) {
      if (chunk.buffer !== first.buffer || chunk.byteOffset !== at) return null;
      at += chunk.length;
    }
    return Buffer.from(first.buffer, first.byteOffset, this.#bytes);
  }

  /** Resolves when the fill may push more (only waits once chunks are not retained). */
  writable(): Promise<void> | null {
    if (this.#retain || this.#readers.size === 0) return null;
    if (this.#bytes - this.#minConsumedBytes() <= HIGH_WATER) return null;
    return new Promise((resolve) => {
      this.#drain = resolve;
    });
  }

  /** A reader from byte 0 (while chunks are retained) or from the oldest kept chunk. */
  reader(onClose?: () => void): AsyncIterable<Buffer> & { close(): void } {
    const cursor: Cursor = { index: this.#dropped, consumedBytes: this.#droppedBytes };
    this.#readers.add(cursor);
    const close = () => {
      if (!this.#readers.delete(cursor)) return;
      this.#trim();
      this.#releaseDrain();
      onClose?.();
    };
    const next = async (): Promise<IteratorResult<Buffer>> => {
      for (;;) {
        if (!this.#readers.has(cursor)) return { done: true, value: undefined };
        const local = cursor.index - this.#dropped;
        if (local < this.#chunks.length) {
          const chunk = this.#chunks[local] as Buffer;
          cursor.index++;
          cursor.consumedBytes += chunk.length;
          if (!this.#retain) {
            this.#trim();
            this.#releaseDrain();
          }
          return { done: false, value: chunk };
        }
        if (this.#error !== null) {
          close();
          throw this.#error;
        }
        if (this.#done) {
          close();
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => this.#wake.push(resolve));
      }
    };
    return {
      [Symbol.asyncIterator]: () => ({
        next,
        return: async () => {
          close();
          return { done: true, value: undefined };
        },
      }),
      close,
    };
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake.length === 0) return;
    this.#wake = [];
    for (const w of wake) w();
  }

  #minConsumedBytes(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const c of this.#readers) if (c.consumedBytes < min) min = c.consumedBytes;
    return min === Number.POSITIVE_INFINITY ? this.#bytes : min;
  }

  #trim(): void {
    if (this.#retain) return;
    let min = Number.POSITIVE_INFINITY;
    for (const c of this.#readers) if (c.index < min) min = c.index;
    if (min === Number.POSITIVE_INFINITY) min = this.#dropped + this.#chunks.length;
    const n = min - this.#dropped;
    if (n <= 0) return;
    for (let i = 0; i < n; i++) this.#droppedBytes += (this.#chunks[i] as Buffer).length;
    this.#chunks.splice(0, n);
    this.#dropped = min;
  }

  #releaseDrain(): void {
    const d = this.#drain;
    if (d === null) return;
    if (this.#readers.size === 0 || this.#bytes - this.#minConsumedBytes() <= HIGH_WATER) {
      this.#drain = null;
      d();
    }
  }
}

interface Cursor {
  index: number;
  consumedBytes: number;
}
