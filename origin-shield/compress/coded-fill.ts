/**
 * The fill of an encoded copy (a key of its own: the URL's key with the coding as its
 * variant), as image variants are filled: the plain response is got through this node's
 * cache (one origin fetch for every coding of a URL), then made into the client's coding:
 *
 *   identity body → br at brotliLevel or gzip at gzipLevel, streamed as it is encoded
 *     (a body already whole is encoded at once); a br copy is then re-encoded at
 *     brotliStoredLevel in the background (stored-copy.ts) and replaces the stored one;
 *   br or gzip body (the origin compressed it) → decoded within a bound, then encoded
 *     into the client's coding, or kept decoded for a client that takes neither.
 *
 * The copy is stored for exactly the plain response's lifetimes, and not at all when
 * the plain response is not stored (private, Set-Cookie, too large): then it is made for
 * this request alone. Once stale, its revalidation asks for the plain response again and
 * is answered 304 without encoding anything while the plain response still has the tag
 * the copy was made from. Whatever cannot be treated goes out as the plain response was.
 */
import type { CompressionConfig } from "../../core/config/index.ts";
import type { ContentCoding } from "../../core/http/accept-encoding.ts";
import {
  CONDITIONAL_FIELDS,
  type HeaderPairs,
  type HeaderReader,
} from "../../core/policy/index.ts";
import type { CacheRequest } from "../cache/cache-path.ts";
import type { FetchedResponse, Fetcher, FetchIntent } from "../collapse/fill.ts";
import { OriginError } from "../origin/origin-error.ts";
import type { ShieldResponse } from "../respond.ts";
import type { Lifetimes, RoutedRequest } from "../types.ts";
import { decodeBounded, encodeStream, encodeWhole } from "./codec.ts";
import { codedEtag, namesCopyOf } from "./etag.ts";
import { reencoder, type StoredCopyDeps } from "./stored-copy.ts";
import { addVary, type Coding, fieldOf, type TreatmentOptions, treatmentFor } from "./treatment.ts";

/** The plain GET or HEAD path through the cache, filled from the origin (compose.ts). */
export type PlainRoute = (
  routed: RoutedRequest,
  noStale?: boolean,
  known?: CacheRequest["known"],
) => ShieldResponse | Promise<ShieldResponse>;

export interface CodedFillDeps extends TreatmentOptions, StoredCopyDeps {
  readonly config: CompressionConfig;
  readonly plain: PlainRoute;
  /** Encodes running now, against MAX_ENCODES. */
  readonly encoding: { active: number };
}

/** Encodes on misses at once; beyond it a client gets the plain body (not stored as a copy). */
export const MAX_ENCODES = 64;
/** A compressed body may decode to this many times its size (and never past maxBytes). */
const MAX_RATIO = 200;
/** …but always to this much, so that small, very compressible bodies decode. */
const MIN_DECODE_LIMIT = 1024 * 1024;

/** Fields of the plain response that describe its bytes as sent, not the copy's. */
const NOT_COPIED: ReadonlySet<string> = new Set([
  "content-length",
  "content-encoding",
  "content-md5",
  "content-digest",
  "repr-digest",
  "digest",
  "content-range",
  "etag",
  "vary",
  // Written afresh for each answer (respond.ts).
  "cache-status",
  "via",
  "age",
]);

/**
 * The fetcher of a copy's fill. `first` hands over, once, the plain response this very
 * request has already got (a miss: its body is being fetched); later fetches ask anew.
 */
export function codedFetcher(
  deps: CodedFillDeps,
  view: RoutedRequest,
  coding: ContentCoding,
  first: () => ShieldResponse | null,
): Fetcher {
  return async (intent) => {
    const source = first() ?? (await deps.plain(plainRequest(view), true));
    return codedResponse(deps, view, coding, intent, source);
  };
}

async function codedResponse(
  deps: CodedFillDeps,
  view: RoutedRequest,
  coding: ContentCoding,
  intent: FetchIntent,
  source: ShieldResponse,
): Promise<FetchedResponse> {
  // A plain response served stale because the origin failed is no revalidation of the
  // copy: the fill fails, so that the stale copy may be served as the rules allow.
  if (source.outcome === "stale_error" && intent.revalidation) {
    closeBody(source);
    throw new OriginError("connect", "the response to compress could not be revalidated");
  }
  const t = treatmentFor(deps, coding, source.status, source.headers);
  if (t.kind === "as-is" || source.body === null)
    return relay(source, t.kind !== "as-is" || t.varies);
  const lifetimes = source.lifetime ?? null;
  const tag = fieldOf(source.headers, "etag");
  if (intent.revalidation && lifetimes !== null && unchanged(intent.conditional, source, coding)) {
    closeBody(source);
    deps.metrics.events.labels(coding, "not_modified").inc();
    return whole(304, notModified(source.headers, intent.conditional), null, lifetimes);
  }
  if (t.from !== "identity") return decoded(deps, view, coding, t.from, source, lifetimes);
  const target = coding as Coding; // identity to identity is never a transform
  if (deps.encoding.active >= MAX_ENCODES) {
    deps.metrics.events.labels(coding, "busy").inc();
    return relay(source, true);
  }
  const level = levelOf(deps.config, target);
  const etag = codedEtag(tag, target, level);
  const headers = copyHeaders(source.headers, target, etag);
  const body = source.body;
  const later = reencoder(deps, view, target, etag, tag, lifetimes);
  if (Buffer.isBuffer(body)) {
    const out = await encodeCounted(deps, target, level, body);
    headers.push(["content-length", String(out.length)]);
    return whole(200, headers, out, lifetimes, later === null ? undefined : () => later(body));
  }
  const size = lengthOf(fieldOf(source.headers, "content-length"));
  return {
    status: 200,
    headers,
    body: streamed(deps, target, level, size, body, later),
    dispose: () => body.close(),
    lifetimes,
  };
}

/** The plain request a copy is made from: a whole GET, the client's conditions and range left out. */
function plainRequest(view: RoutedRequest): RoutedRequest {
  const base = view.reader;
  const reader: HeaderReader = {
    get: (name) => {
      const lower = name.toLowerCase();
      return CONDITIONAL_FIELDS.has(lower) || lower === "range" ? null : base.get(name);
    },
  };
  return { ...view, method: "GET", reader };
}

/** Whether the copy being revalidated was made from the plain response as it is now. */
function unchanged(
  conditional: HeaderPairs,
  source: ShieldResponse,
  coding: ContentCoding,
): boolean {
  const tag = fieldOf(source.headers, "etag");
  if (tag !== undefined) return namesCopyOf(conditional, tag, coding);
  const modified = fieldOf(source.headers, "last-modified");
  if (modified === undefined) return false;
  return conditional.some(([name, value]) => name === "if-modified-since" && value === modified);
}

/** A 304 for the copy: the plain response's caching fields, and the copy's own tag. */
function notModified(flat: readonly string[], conditional: HeaderPairs): HeaderPairs {
  const out: HeaderPairs = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string;
    if (NOT_COPIED.has(name) || name.startsWith("content-") || name === "set-cookie") continue;
    out.push([name, flat[i + 1] as string]);
  }
  for (const [name, value] of conditional) if (name === "if-none-match") out.push(["etag", value]);
  return out;
}

/** The copy's fields: the plain response's, with its coding, tag and a merged Vary. */
function copyHeaders(
  flat: readonly string[],
  coding: ContentCoding,
  etag: string | undefined,
): HeaderPairs {
  const out: HeaderPairs = [];
  const vary: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string;
    const value = flat[i + 1] as string;
    if (name === "vary") vary.push("vary", value);
    if (!NOT_COPIED.has(name)) out.push([name, value]);
  }
  if (coding !== "identity") out.push(["content-encoding", coding]);
  addVary(vary);
  for (let i = 0; i < vary.length; i += 2) out.push(["vary", vary[i + 1] as string]);
  if (etag !== undefined) out.push(["etag", etag]);
  return out;
}

/** The plain response as it is, not stored as the copy (its fill stores nothing). */
function relay(source: ShieldResponse, varies: boolean): FetchedResponse {
  const flat: string[] = [];
  for (let i = 0; i < source.headers.length; i += 2) {
    const name = source.headers[i] as string;
    if (name === "cache-status" || name === "via" || name === "age") continue;
    flat.push(name, source.headers[i + 1] as string);
  }
  if (varies) addVary(flat);
  const headers: HeaderPairs = [];
  for (let i = 0; i < flat.length; i += 2) headers.push([flat[i] as string, flat[i + 1] as string]);
  const body = source.body;
  if (body === null || Buffer.isBuffer(body)) return whole(source.status, headers, body, null);
  return { status: source.status, headers, body, dispose: () => body.close(), lifetimes: null };
}

/**
 * A body the origin compressed, for a client that takes another coding: read whole
 * (bounded by maxBytes), decoded within a bound on its size and ratio, then encoded in
 * the client's coding or kept decoded. A body over either bound is refused (502
 * bad_origin_response): it is never inflated past the bound in memory.
 */
async function decoded(
  deps: CodedFillDeps,
  view: RoutedRequest,
  coding: ContentCoding,
  from: Coding,
  source: ShieldResponse,
  lifetimes: Lifetimes | null,
): Promise<FetchedResponse> {
  const input = await readWhole(source, deps.maxBytes);
  if (input === null) {
    deps.metrics.events.labels(from, "too_large").inc();
    throw new OriginError("invalid", `the origin's ${from} body is over ${deps.maxBytes} bytes`);
  }
  const limit = Math.min(deps.maxBytes, Math.max(MIN_DECODE_LIMIT, input.length * MAX_RATIO));
  const plain = await decodeBounded(from, input, limit);
  if (plain === "too-large" || plain === "corrupt") {
    deps.metrics.events.labels(from, plain === "too-large" ? "too_large" : "corrupt").inc();
    const why = plain === "too-large" ? `decodes to more than ${limit} bytes` : "does not decode";
    throw new OriginError("invalid", `the origin's ${from} body ${why}`);
  }
  deps.metrics.events.labels(from, "decoded").inc();
  deps.metrics.bytes.labels(from, "in").inc(input.length);
  const tag = fieldOf(source.headers, "etag");
  if (coding === "identity") {
    const headers = copyHeaders(source.headers, "identity", codedEtag(tag, "identity", 0));
    headers.push(["content-length", String(plain.length)]);
    return whole(200, headers, plain, lifetimes);
  }
  const level = levelOf(deps.config, coding);
  // Tagged as made from the origin's compressed bytes: their tag names those.
  const etag = codedEtag(tag, coding, level);
  const out = await encodeCounted(deps, coding, level, plain);
  const headers = copyHeaders(source.headers, coding, etag);
  headers.push(["content-length", String(out.length)]);
  const later = reencoder(deps, view, coding, etag, tag, lifetimes);
  return whole(200, headers, out, lifetimes, later === null ? undefined : () => later(plain));
}

async function encodeCounted(
  deps: CodedFillDeps,
  coding: Coding,
  level: number,
  input: Buffer,
): Promise<Buffer> {
  deps.encoding.active++;
  try {
    const out = await encodeWhole(coding, level, input);
    count(deps, coding, input.length, out.length);
    return out;
  } finally {
    deps.encoding.active--;
  }
}

function count(deps: CodedFillDeps, coding: Coding, input: number, output: number): void {
  deps.metrics.events.labels(coding, "encoded").inc();
  deps.metrics.bytes.labels(coding, "in").inc(input);
  deps.metrics.bytes.labels(coding, "out").inc(output);
}

/**
 * A streamed body encoded as it arrives; a copy of the input is kept for the stored
 * re-encode while it stays within maxBytes, and handed over once the body ended whole.
 */
async function* streamed(
  deps: CodedFillDeps,
  coding: Coding,
  level: number,
  size: number | null,
  body: AsyncIterable<Buffer>,
  later: ((input: Buffer) => void) | null,
): AsyncGenerator<Buffer> {
  deps.encoding.active++;
  const kept: Buffer[] = [];
  let keeping = later !== null;
  let input = 0;
  let output = 0;
  try {
    const see = (chunk: Buffer) => {
      input += chunk.length;
      if (!keeping) return;
      if (input > deps.maxBytes) {
        keeping = false;
        kept.length = 0;
      } else kept.push(chunk);
    };
    for await (const out of encodeStream(body, coding, level, size, see)) {
      output += out.length;
      yield out;
    }
    count(deps, coding, input, output);
    if (keeping && later !== null) later(Buffer.concat(kept, input));
  } finally {
    deps.encoding.active--;
  }
}

/** A body read whole, or null when it is over `max` bytes (then it is closed). */
async function readWhole(source: ShieldResponse, max: number): Promise<Buffer | null> {
  const body = source.body;
  if (body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body.length > max ? null : body;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.close();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function whole(
  status: number,
  headers: HeaderPairs,
  body: Buffer | null,
  lifetimes: Lifetimes | null,
  ended?: () => void,
): FetchedResponse {
  return { status, headers, body: once(body, ended), dispose() {}, lifetimes };
}

async function* once(body: Buffer | null, ended: (() => void) | undefined): AsyncGenerator<Buffer> {
  if (body !== null) yield body;
  ended?.();
}

export function closeBody(response: ShieldResponse): void {
  if (response.body !== null && !Buffer.isBuffer(response.body)) response.body.close();
}

function levelOf(config: CompressionConfig, coding: Coding): number {
  return coding === "br" ? config.brotliLevel : config.gzipLevel;
}

function lengthOf(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}
