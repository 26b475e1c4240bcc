/**
 * The Redis tier's writer (store/redis-tier.ts): a body is sent to Redis whole, in the
 * one script that stores its record, so the writer keeps a copy of each chunk (the caller
 * may reuse its buffer) up to the tier's bound, and hands the body over on commit.
 */
import type { LowerWriter } from "./lower-tier.ts";

/** Largest declared length allocated before the body arrives (an origin may lie). */
const PREALLOCATE_MAX = 1024 * 1024;

/**
 * Takes a body's chunks up to the tier's bound and hands the whole to `store` on commit.
 * With a declared length (up to PREALLOCATE_MAX) the body is allocated once and each
 * chunk copied into place; otherwise each chunk is copied and the copies joined at the end.
 */
export class RedisWriter implements LowerWriter {
  readonly #max: number;
  readonly #declared: number | null;
  readonly #store: (body: Buffer) => Promise<boolean>;
  readonly #target: Buffer | null;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #open = true;

  constructor(max: number, declared: number | null, store: (body: Buffer) => Promise<boolean>) {
    this.#max = max;
    this.#declared = declared;
    this.#store = store;
    this.#target =
      declared === null || declared > PREALLOCATE_MAX ? null : Buffer.allocUnsafe(declared);
  }

  write(chunk: Buffer): boolean {
    if (!this.#open) return false;
    const at = this.#bytes;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#max || (this.#declared !== null && this.#bytes > this.#declared)) {
      this.abort();
      return false;
    }
    // Copied now: the caller may reuse its buffer once this returns.
    if (this.#target !== null) chunk.copy(this.#target, at);
    else this.#chunks.push(Buffer.from(chunk));
    return true;
  }

  commit(): Promise<boolean> {
    if (!this.#open) return Promise.resolve(false);
    this.#open = false;
    if (this.#declared !== null && this.#bytes !== this.#declared) return Promise.resolve(false);
    const body = this.#target ?? Buffer.concat(this.#chunks, this.#bytes);
    this.#chunks.length = 0;
    return this.#store(body);
  }

  abort(): void {
    this.#open = false;
    this.#chunks.length = 0;
  }
}

/**
 * The body as a buffer of its own: the client hands out views into the socket's read
 * buffer, and a small body kept by the memory tier would otherwise pin that whole buffer.
 */
export function ownCopy(body: Buffer): Buffer {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return body;
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}
