/**
 * Brotli and gzip with node:zlib (native brotli and zlib, on libuv's thread pool, off the
 * event loop): a body encoded as it streams, a whole body encoded at once, and a
 * compressed body decoded within a bound on what it may grow to.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type BrotliOptions,
  brotliCompress,
  brotliDecompress,
  constants,
  createBrotliCompress,
  createGzip,
  gunzip,
  gzip,
  type ZlibOptions,
} from "node:zlib";
import type { ContentCoding } from "../../core/http/accept-encoding.ts";
import { OriginError } from "../origin/origin-error.ts";
import type { Coding } from "./treatment.ts";

/**
 * Brotli's window, by body size: the smallest window that covers the body (at least
 * 64 KiB, at most the default 4 MiB). A small body then costs a small encoder, and the
 * output is the same for the same bytes and level.
 */
function brotliOptions(level: number, size: number | null): BrotliOptions {
  const window =
    size === null ? 22 : Math.max(16, Math.min(22, Math.ceil(Math.log2(Math.max(size, 1)))));
  const params: Record<number, number> = {
    [constants.BROTLI_PARAM_QUALITY]: level,
    [constants.BROTLI_PARAM_LGWIN]: window,
  };
  if (size !== null) params[constants.BROTLI_PARAM_SIZE_HINT] = size;
  return { params };
}

function gzipOptions(level: number): ZlibOptions {
  return { level };
}

/** A whole body in `coding` at `level`. */
export function encodeWhole(coding: Coding, level: number, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) => (err === null ? resolve(out) : reject(err));
    if (coding === "br") brotliCompress(input, brotliOptions(level, input.length), done);
    else gzip(input, gzipOptions(level), done);
  });
}

/**
 * A body encoded as it arrives: each chunk the encoder has ready is yielded at once.
 * `seen` is told of every input chunk (to keep a copy for the stored re-encode). A
 * failure of the input ends the stream with that failure (an OriginError when the
 * origin's body was cut); anything else is reported as a reset body.
 */
export async function* encodeStream(
  input: AsyncIterable<Buffer>,
  coding: Coding,
  level: number,
  size: number | null,
  seen: (chunk: Buffer) => void,
): AsyncGenerator<Buffer> {
  const encoder =
    coding === "br"
      ? createBrotliCompress(brotliOptions(level, size))
      : createGzip(gzipOptions(level));
  async function* watched(): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      seen(chunk);
      yield chunk;
    }
  }
  const feeding = pipeline(Readable.from(watched()), encoder);
  let failure: unknown = null;
  // The encoder is read while it is fed; a failure on either side is reported once, below.
  feeding.catch((err: unknown) => {
    failure = err;
  });
  try {
    for await (const out of encoder) yield out as Buffer;
    await feeding;
  } catch (err) {
    await feeding.catch(() => {});
    const cause = failure ?? err;
    if (cause instanceof OriginError) throw cause;
    throw new OriginError("reset", "the body could not be compressed", { cause });
  } finally {
    encoder.destroy();
  }
}

/** Why a compressed body was not decoded. */
export type DecodeRefusal = "too-large" | "corrupt";

/**
 * A br or gzip body decoded, or a refusal: `limit` bounds what it may decode to, and zlib
 * stops as soon as its output passes it, so a small body that would expand to gigabytes
 * (a decompression bomb) costs at most `limit` bytes before it is refused.
 */
export function decodeBounded(
  coding: Exclude<ContentCoding, "identity">,
  input: Buffer,
  limit: number,
): Promise<Buffer | DecodeRefusal> {
  return new Promise((resolve) => {
    const done = (err: (Error & { code?: string }) | null, out: Buffer) => {
      if (err === null) resolve(out);
      else resolve(err.code === "ERR_BUFFER_TOO_LARGE" ? "too-large" : "corrupt");
    };
    const options = { maxOutputLength: Math.max(1, limit) };
    if (coding === "br") brotliDecompress(input, options, done);
    else gunzip(input, options, done);
  });
}
