/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` field that
 * lets one request be followed through the edge, the shield and the origin. Every hop
 * does the same thing (§ "Processing model"): it reads the `traceparent` it received,
 * keeps its trace-id when the field is valid, and sends on a `traceparent` whose
 * parent-id is its own span id, new per hop. A field that is absent or does not parse
 * starts a new trace, and then `tracestate` is dropped with it: the spec's rule is that
 * a hop that cannot read `traceparent` must not pass on the state that went with it.
 * A malformed value is therefore never forwarded as it came.
 *
 *   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03
 *                ^^ version  ^^ trace-id (16 bytes)  ^^ parent-id (8)  ^^ flags
 *
 * Identifiers come from the platform's CSPRNG (Web Crypto, in Node and workerd alike),
 * 4 KiB at a time (8192 hex digits: a new trace takes 48 of them, a continued one 16).
 */

/** A `traceparent` that parsed: lowercase hex ids, neither all zeros, and its flags. */
export interface TraceParent {
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: number;
}

/** What one hop knows of its trace (see continueTrace). */
export interface HopTrace {
  readonly traceId: string;
  /** This hop's own span id: the parent-id of every request it sends on. */
  readonly spanId: string;
  /** The caller's span id; null when the trace starts here. */
  readonly parentId: string | null;
  /** The `traceparent` value to send on. */
  readonly traceparent: string;
  /** True when no valid `traceparent` came in: `tracestate` must not be passed on. */
  readonly restarted: boolean;
}

/** Flag bits (§3.2.2.5): sampled, and the Level 2 random-trace-id flag. */
const SAMPLED = 0x01;
const RANDOM_TRACE_ID = 0x02;
/** Other bits are reserved: a hop sends them as zero (§3.2.2.5, "Other Flags"). */
const KNOWN_FLAGS = SAMPLED | RANDOM_TRACE_ID;
/**
 * A trace started here is marked sampled: each tier logs a line for every request with
 * these ids (a record, in the spec's sense), and an origin that samples by its parent
 * then records its side of the same requests, which are the misses only.
 */
const STARTED_FLAGS = SAMPLED | RANDOM_TRACE_ID;

const VERSION_00_LENGTH = 55;
const ZERO_TRACE = "00000000000000000000000000000000";
const ZERO_SPAN = "0000000000000000";

/**
 * Parse a received `traceparent` (§3.2, with the versioning rules of §3.2.4): version 00
 * must be exactly 55 characters; a higher version is read as 00 when its first 55
 * characters parse and are followed by the end or a "-"; version ff is invalid. Anything
 * else (upper-case hex, all-zero ids, several fields joined by a comma) gives null.
 */
export function parseTraceparent(value: string | null | undefined): TraceParent | null {
  if (typeof value !== "string" || value.length < VERSION_00_LENGTH) return null;
  const major = hexValue(value.charCodeAt(0));
  const minor = hexValue(value.charCodeAt(1));
  if (major < 0 || minor < 0 || value.charCodeAt(2) !== 0x2d) return null;
  const version = major * 16 + minor;
  if (version === 0xff) return null;
  if (version === 0 ? value.length !== VERSION_00_LENGTH : !endsField(value)) return null;
  if (value.charCodeAt(35) !== 0x2d || value.charCodeAt(52) !== 0x2d) return null;
  const high = hexValue(value.charCodeAt(53));
  const low = hexValue(value.charCodeAt(54));
  if (high < 0 || low < 0 || !isLowerHex(value, 3, 35) || !isLowerHex(value, 36, 52)) return null;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return null;
  return { traceId, parentId, flags: high * 16 + low };
}

/** A higher version may add fields after the fourth, each after a "-". */
function endsField(value: string): boolean {
  return value.length === VERSION_00_LENGTH || value.charCodeAt(VERSION_00_LENGTH) === 0x2d;
}

/** The value of a lowercase hex digit (HEXDIGLC, §3.2.2), or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

function isLowerHex(value: string, from: number, to: number): boolean {
  for (let at = from; at < to; at++) if (hexValue(value.charCodeAt(at)) < 0) return false;
  return true;
}

/**
 * This hop's trace for a request that carried `received` (the `traceparent` value, or
 * null): the same trace with a new span id when it is valid, a new trace otherwise. The
 * sampled and random-trace-id flags are kept as received (§3.2.2.5: a hop continuing a
 * trace must not change the random flag), other bits cleared, the version written as 00.
 */
export function continueTrace(received: string | null | undefined): HopTrace {
  const parent = parseTraceparent(received);
  const spanId = randomId(16, ZERO_SPAN);
  if (parent === null) {
    const traceId = randomId(32, ZERO_TRACE);
    return {
      traceId,
      spanId,
      parentId: null,
      traceparent: format(traceId, spanId, STARTED_FLAGS),
      restarted: true,
    };
  }
  const { traceId, parentId } = parent;
  const traceparent = format(traceId, spanId, parent.flags & KNOWN_FLAGS);
  return { traceId, spanId, parentId, traceparent, restarted: false };
}

function format(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags < 16 ? "0" : ""}${flags.toString(16)}`;
}

/**
 * Random hex digits, made 8 KiB at a time: random bytes from the CSPRNG, each written as
 * its two ASCII digits (one 16-bit store from PAIRS) and decoded into one string, from
 * which ids are then cut. One CSPRNG call and one decode serve about 170 new traces
 * (some 20 µs in all), and an id is one slice of that string rather than a string built
 * up byte by byte.
 */
const POOL_DIGITS = 8192;
/** Each byte's two digits as one 16-bit unit, in the platform's byte order. */
const PAIRS = new Uint16Array(256);
{
  const digits = new TextEncoder().encode("0123456789abcdef");
  const two = new Uint8Array(2);
  const asUnit = new Uint16Array(two.buffer);
  for (let byte = 0; byte < 256; byte++) {
    two[0] = digits[byte >> 4] as number;
    two[1] = digits[byte & 15] as number;
    PAIRS[byte] = asUnit[0] as number;
  }
}
const random = new Uint8Array(POOL_DIGITS / 2);
const ascii = new Uint16Array(POOL_DIGITS / 2);
const decoder = new TextDecoder();
/** Filled on first use: workerd allows no randomness while a Worker starts up. */
let pool = "";
let used = POOL_DIGITS;

function refillPool(): void {
  crypto.getRandomValues(random);
  for (let at = 0; at < random.length; at++) ascii[at] = PAIRS[random[at] as number] as number;
  pool = decoder.decode(ascii);
  used = 0;
}

/** `length` random hex digits, never `zero` (all zeros is invalid, §3.2.2.3–4). */
function randomId(length: number, zero: string): string {
  if (used + length > POOL_DIGITS) refillPool();
  const out = pool.slice(used, used + length);
  used += length;
  // 2^-64 at worst; the id would be refused by the next hop, so it is never sent.
  return out === zero ? `${out.slice(0, -1)}1` : out;
}
