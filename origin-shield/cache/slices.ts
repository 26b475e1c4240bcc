/**
 * Ranges of objects too large to store whole (RFC 9110 §14, RFC 9111 §3.4). A response
 * no tier would take streams through once (`detail=too-large`); what the shield learnt
 * from it (its length and strong ETag) is remembered here for as long as it is fresh.
 * A later request for one range of it is not another whole fetch: the range is cut into
 * fixed slices (`sliceBytes`, aligned), each slice asked of the origin with `Range`,
 * stored as its own entry under the object's URL (so a purge of the URL takes them all)
 * and collapsed like any fill, and the client's part is sent from the slices in order,
 * each fetched only once the one before has been sent.
 *
 * Slices are combined only as §3.4 allows: every one must carry the remembered strong
 * ETag, the remembered complete length and no content coding, or the answer stops (the
 * first slice: the request takes the ordinary path and fetches the whole; a later one:
 * the transfer is cut, never completed with another object's bytes) and the object is
 * forgotten. A 206 the origin sends for a slice must name exactly that slice.
 */

import { parseETag } from "../../core/http/etag.ts";
import type { HeaderPairs, HeaderReader } from "../../core/policy/index.ts";
import type { FetchedResponse, Fetcher } from "../collapse/fill.ts";
import { selectRange } from "../http/range.ts";
import { sliceStream } from "../http/range-stream.ts";
import { OriginError } from "../origin/origin-error.ts";
import type { BodyStream, ShieldResponse } from "../respond.ts";

/** What is remembered of an object too large to store. */
export interface LargeObject {
  readonly size: number;
  /** The strong entity-tag, as sent. */
  readonly etag: string;
  /** Until when (ms) slices may be cut by it: the response's freshness. */
  readonly until: number;
}

/** Bounded memo of objects too large to store, by primary key. */
export class LargeObjects {
  readonly sliceBytes: number;
  readonly #maxBytes: number;
  readonly #known = new Map<string, LargeObject>();
  #bytes = 0;

  /** `sliceBytes`: at most what a tier stores; `maxBytes`: the memo's own bound. */
  constructor(sliceBytes: number, maxBytes: number) {
    this.sliceBytes = sliceBytes;
    this.#maxBytes = maxBytes;
  }

  /**
   * A 200 that was storable but too large: remembered when it has a strong ETag, a
   * Content-Length and no content coding (slices of it can then be told apart from
   * slices of anything else).
   */
  remember(primary: string, headers: HeaderPairs, until: number): void {
    const fields = reader(headers);
    const etag = fields.get("etag");
    const tag = parseETag(etag);
    const size = lengthOf(fields.get("content-length"));
    const coded = fields.get("content-encoding");
    if (etag === null || tag === null || tag.weak || size === null || size === 0) return;
    if (coded !== null && coded.trim().toLowerCase() !== "identity") return;
    this.forget(primary);
    const cost = primary.length * 2 + etag.length * 2 + 64;
    while (this.#bytes + cost > this.#maxBytes && this.#known.size > 0) {
      this.forget(this.#known.keys().next().value as string);
    }
    if (cost > this.#maxBytes) return;
    this.#known.set(primary, { size, etag, until });
    this.#bytes += cost;
  }

  get(primary: string, now: number): LargeObject | undefined {
    const known = this.#known.get(primary);
    if (known === undefined || now < known.until) return known;
    this.forget(primary);
    return undefined;
  }

  forget(primary: string): void {
    const known = this.#known.get(primary);
    if (known === undefined) return;
    this.#known.delete(primary);
    this.#bytes -= primary.length * 2 + known.etag.length * 2 + 64;
  }
}

/** How the stitcher gets one slice: an answer of the cache path for the slice's entry. */
export type SliceSource = (start: number, end: number) => ShieldResponse | Promise<ShieldResponse>;

/**
 * The client's range of a large object as a 206 made of slices; null when the request
 * should take the ordinary path (several ranges, If-Range not matching, a first slice
 * that is not of the remembered object).
 */
export async function serveSliced(
  large: LargeObject,
  sliceBytes: number,
  request: HeaderReader,
  slice: SliceSource,
  forget: () => void,
): Promise<ShieldResponse | null> {
  const range = request.get("range");
  if (range === null) return null;
  const chosen = selectRange(range, request.get("if-range"), large.size, etagReader(large.etag));
  if (chosen.kind === "full") return null;
  if (chosen.kind === "unsatisfiable") {
    const headers = ["content-length", "0", "content-range", `bytes */${large.size}`];
    return { status: 416, headers, body: null, outcome: "miss" };
  }
  const { start, end } = chosen;
  const first = Math.floor(start / sliceBytes);
  const last = Math.floor(end / sliceBytes);
  const bounds = (i: number) =>
    [i * sliceBytes, Math.min(large.size, (i + 1) * sliceBytes) - 1] as const;
  const [s0, e0] = bounds(first);
  const head = await slice(s0, e0);
  if (!ofObject(head, large, e0 - s0 + 1)) {
    close(head);
    forget();
    return null;
  }
  let current: ShieldResponse = head;
  const body: BodyStream = {
    close: () => close(current),
    async *[Symbol.asyncIterator]() {
      for (let i = first; i <= last; i++) {
        const [s, e] = bounds(i);
        if (i !== first) {
          current = await slice(s, e);
          if (!ofObject(current, large, e - s + 1)) {
            close(current);
            forget();
            throw new OriginError("invalid", "a slice is not of the object the others were");
          }
        }
        const from = Math.max(start, s) - s;
        const to = Math.min(end, e) - s;
        const part = current.body as Buffer | BodyStream;
        if (Buffer.isBuffer(part)) yield part.subarray(from, to + 1);
        else yield* sliceStream(part, from, to);
      }
    },
  };
  const headers: string[] = [];
  for (let i = 0; i < head.headers.length; i += 2) {
    const name = head.headers[i] as string;
    if (name === "content-length" || name === "content-range") continue;
    headers.push(name, head.headers[i + 1] as string);
  }
  headers.push(
    "content-length",
    String(end - start + 1),
    "content-range",
    `bytes ${start}-${end}/${large.size}`,
  );
  return { status: 206, headers, body, outcome: head.outcome };
}

/**
 * A slice as the cache stores it: the origin's 206 for exactly the bytes asked for (or
 * its 200, cut to them), made a 200 of the slice's own length. Anything else that
 * claims partial content fails the slice's fetch.
 */
export function sliceFetcher(fetch: Fetcher, start: number, end: number, size: number): Fetcher {
  const range = `bytes=${start}-${end}`;
  return async (intent, signal) => {
    const res = await fetch({ ...intent, range }, signal);
    if (res.status !== 206 && res.status !== 200) return res;
    const fields = reader(res.headers);
    const length = end - start + 1;
    if (res.status === 206) {
      const named = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(
        (fields.get("content-range") ?? "").trim(),
      );
      if (
        named === null ||
        Number(named[1]) !== start ||
        Number(named[2]) !== end ||
        Number(named[3]) !== size
      ) {
        res.dispose();
        throw new OriginError("invalid", `the origin's 206 is not ${range} of ${size} bytes`);
      }
      return asSlice(res, res.body, length);
    }
    // The origin ignored Range: the slice is cut from the whole, which must be the size.
    if (lengthOf(fields.get("content-length")) !== size) {
      res.dispose();
      throw new OriginError("invalid", "the origin's whole response is not the remembered size");
    }
    const source = res.body;
    const whole: BodyStream = {
      close: () => res.dispose(),
      [Symbol.asyncIterator]: () => source[Symbol.asyncIterator](),
    };
    return asSlice(res, asOriginErrors(sliceStream(whole, start, end)), length);
  };
}

/** A fill's body may fail only with an OriginError (collapse/fill.ts). */
async function* asOriginErrors(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* body;
  } catch (err) {
    throw err instanceof OriginError ? err : new OriginError("reset", String(err));
  }
}

function asSlice(
  res: FetchedResponse,
  body: AsyncIterable<Buffer>,
  length: number,
): FetchedResponse {
  const headers: HeaderPairs = [];
  for (const pair of res.headers) {
    if (pair[0] !== "content-range" && pair[0] !== "content-length") headers.push(pair);
  }
  headers.push(["content-length", String(length)]);
  return { status: 200, headers, body, dispose: () => res.dispose() };
}

/** Is this slice answer a 200 of `length` bytes of the remembered object? */
function ofObject(answer: ShieldResponse, large: LargeObject, length: number): boolean {
  if (answer.status !== 200 || answer.body === null) return false;
  const fields = flatReader(answer.headers);
  const tag = parseETag(fields.get("etag"));
  const want = parseETag(large.etag);
  if (tag === null || want === null || tag.weak || tag.tag !== want.tag) return false;
  const coded = fields.get("content-encoding");
  if (coded !== null && coded.trim().toLowerCase() !== "identity") return false;
  return lengthOf(fields.get("content-length")) === length;
}

function close(answer: ShieldResponse): void {
  const body = answer.body;
  if (body !== null && !Buffer.isBuffer(body)) body.close();
}

function etagReader(etag: string): HeaderReader {
  return { get: (name) => (name === "etag" ? etag : null) };
}

function reader(pairs: HeaderPairs): HeaderReader {
  return {
    get(name) {
      let found: string | null = null;
      for (const [n, v] of pairs) if (n === name) found = found === null ? v : `${found}, ${v}`;
      return found;
    },
  };
}

function flatReader(flat: readonly string[]): HeaderReader {
  return {
    get(name) {
      let found: string | null = null;
      for (let i = 0; i < flat.length; i += 2) {
        if (flat[i] !== name) continue;
        const v = flat[i + 1] as string;
        found = found === null ? v : `${found}, ${v}`;
      }
      return found;
    },
  };
}

function lengthOf(value: string | null): number | null {
  if (value === null || !/^\d{1,15}$/.test(value.trim())) return null;
  return Number(value.trim());
}

/** Request fields a slice's fetch must not carry: the client's range and conditionals. */
const NOT_FOR_SLICES = new Set([
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
]);

/** What slicedMiss reads of a cache request (cache-path.ts CacheRequest). */
export interface SliceableRequest {
  readonly method: string;
  readonly headers: HeaderReader;
  readonly variant?: string | undefined;
  readonly fetch: Fetcher;
}

/**
 * A GET for one range of an object remembered as too large to store, served from slices
 * through the cache path (`serve`); null when the request takes the ordinary path (no
 * range, a conditional request, nothing remembered). The promise resolves to null too
 * when the slices turn out not to fit the request (see serveSliced).
 */
export function slicedMiss<R extends SliceableRequest>(
  memo: LargeObjects | undefined,
  now: number,
  req: R,
  primary: string,
  serve: (slice: R) => ShieldResponse | Promise<ShieldResponse>,
): Promise<ShieldResponse | null> | null {
  const client = req.headers;
  if (memo === undefined || req.method !== "GET" || client.get("range") === null) return null;
  // A conditional request is answered by the ordinary path (If-None-Match before Range).
  for (const name of NOT_FOR_SLICES) {
    if (name !== "range" && name !== "if-range" && client.get(name) !== null) return null;
  }
  const large = memo.get(primary, now);
  if (large === undefined) return null;
  const headers: HeaderReader = {
    get: (name) => (NOT_FOR_SLICES.has(name.toLowerCase()) ? null : client.get(name)),
  };
  const of = req.variant === undefined ? "" : ` of ${req.variant}`;
  const slice: SliceSource = (start, end) =>
    serve({
      ...req,
      headers,
      variant: `range ${start}-${end}${of}`,
      fetch: sliceFetcher(req.fetch, start, end, large.size),
    });
  return serveSliced(large, memo.sliceBytes, client, slice, () => memo.forget(primary));
}
