/**
 * Reading a variant's source body for the pipeline (produce.ts, convert-fill.ts), within
 * limits.maxInputBytes, and getting its header read as early as possible.
 *
 * sharp takes a source whole: its stream input collects the chunks and joins them before
 * libvips sees a byte, so decoding cannot start before the last chunk. What can overlap
 * the download is the header read: once a JPEG's header has arrived (image-pipeline
 * header.ts), it is probed while the rest of the body comes in, and the transform starts
 * with its checks (format, pixels, orientation) already answered instead of a further
 * round trip through libuv's pool, which on a busy machine waits behind the running
 * transforms for a core. A source read from the cache whole (a hit) has its header
 * remembered from the first variant made of it, for the next sizes of the same image.
 */
import { ImageError } from "../../core/variant/index.ts";
import {
  HEADER_WINDOW,
  type ImagePipeline,
  jpegHeaderLength,
  type SourceHeader,
} from "../../image-pipeline/index.ts";
import type { ShieldResponse } from "../respond.ts";

/** Headers read from stored bodies, kept only while the body (a stored entry's) is alive. */
const known = new WeakMap<Buffer, SourceHeader>();

/** Remember what a transform read from `input`'s header, for the next variant of it. */
export function rememberHeader(input: Buffer, header: SourceHeader): void {
  known.set(input, header);
}

/** A source body read whole, with its header if it is already read or being read. */
export interface SourceBody {
  readonly body: Buffer;
  readonly header: SourceHeader | Promise<SourceHeader | null> | null;
}

/**
 * Watches the first chunks of a body for a whole JPEG header, and starts its probe the
 * moment it is there. Gives up after HEADER_WINDOW bytes or at the first chunk that is
 * not a JPEG's beginning.
 */
class HeaderWatch {
  readonly #pipeline: ImagePipeline;
  readonly #first: Buffer[] = [];
  #size = 0;
  #done = false;
  header: Promise<SourceHeader | null> | null = null;

  constructor(pipeline: ImagePipeline) {
    this.#pipeline = pipeline;
  }

  add(chunk: Buffer): void {
    if (this.#done || chunk.length === 0) return;
    this.#first.push(chunk);
    this.#size += chunk.length;
    const head = this.#first.length === 1 ? chunk : Buffer.concat(this.#first, this.#size);
    const length = jpegHeaderLength(head);
    if (length !== null) this.header = this.#pipeline.probeHeader(head.subarray(0, length));
    // A JPEG starts FF D8; anything else is probed whole, in the queue.
    const notJpeg = head[0] !== 0xff || (head.length > 1 && head[1] !== 0xd8);
    if (length !== null || notJpeg || this.#size >= HEADER_WINDOW) this.#done = true;
  }
}

function tooLarge(max: number): ImageError {
  return new ImageError("source_too_large", `the source image is over ${max} bytes`);
}

/** The source's body, at most `max` bytes (413 source_too_large beyond). */
export async function readSource(
  source: ShieldResponse,
  max: number,
  pipeline: ImagePipeline,
): Promise<SourceBody> {
  const body = source.body;
  if (body === null) return { body: Buffer.alloc(0), header: null };
  if (Buffer.isBuffer(body)) {
    if (body.length > max) throw tooLarge(max);
    return { body, header: known.get(body) ?? null };
  }
  const declared = headerOf(source.headers, "content-length");
  if (declared !== undefined && Number(declared) > max) {
    body.close();
    throw tooLarge(max);
  }
  const watch = new HeaderWatch(pipeline);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.close();
      throw tooLarge(max);
    }
    chunks.push(chunk);
    watch.add(chunk);
  }
  return { body: joined(chunks, size), header: watch.header };
}

export type SourceRead =
  | ({ readonly kind: "whole" } & SourceBody)
  /** Over the limit: what was read, then the rest as it arrives. */
  | { readonly kind: "over"; readonly body: AsyncIterable<Buffer>; dispose(): void };

/**
 * The source's body when it is at most `max` bytes. A larger one is handed back to be
 * relayed (unread when its length says so up front), never held whole.
 */
export async function readUpTo(
  source: ShieldResponse,
  max: number,
  pipeline: ImagePipeline,
): Promise<SourceRead> {
  const body = source.body;
  if (body === null) return { kind: "whole", body: Buffer.alloc(0), header: null };
  if (Buffer.isBuffer(body)) {
    if (body.length <= max) return { kind: "whole", body, header: known.get(body) ?? null };
    return { kind: "over", body: prefixed([body], null), dispose() {} };
  }
  const close = (): void => body.close();
  const declared = headerOf(source.headers, "content-length");
  if (declared !== undefined && Number(declared) > max) {
    return { kind: "over", body, dispose: close };
  }
  // Iterated by hand: a for-await loop left early would close the stream, and the rest
  // of an oversized body is still to be relayed.
  const iterator = body[Symbol.asyncIterator]();
  const watch = new HeaderWatch(pipeline);
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) {
      return { kind: "whole", body: joined(chunks, size), header: watch.header };
    }
    chunks.push(next.value);
    size += next.value.length;
    if (size > max) return { kind: "over", body: prefixed(chunks, iterator), dispose: close };
    watch.add(next.value);
  }
}

/**
 * The chunks as one buffer. A fill that stores a body of known length hands its readers
 * consecutive views of the one buffer it stores (store/memory-tier.ts); those are joined
 * without a copy.
 */
export function joined(chunks: readonly Buffer[], size: number): Buffer {
  const first = chunks[0];
  if (first === undefined) return Buffer.alloc(0);
  let at = first.byteOffset;
  for (const c of chunks) {
    if (c.buffer !== first.buffer || c.byteOffset !== at) return Buffer.concat(chunks, size);
    at += c.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, size);
}

/** The first value of a field in a flat [name, value, …] list (lowercase names). */
export function headerOf(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}

async function* prefixed(
  read: readonly Buffer[],
  rest: AsyncIterator<Buffer> | null,
): AsyncGenerator<Buffer> {
  yield* read;
  if (rest === null) return;
  for (;;) {
    const next = await rest.next();
    if (next.done === true) return;
    yield next.value;
  }
}
