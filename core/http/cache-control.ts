/**
 * Cache-Control (RFC 9111 §5.2) and targeted CDN-Cache-Control (RFC 9213) parsing.
 *
 * Both parsers return the same shape so policy code reads one structure. Neither throws.
 *
 * `noCache` / `private` are true whenever the directive is present, qualified or not; the
 * qualified form (RFC 9111 §5.2.2.4, §5.2.2.7) additionally sets `noCacheFields` /
 * `privateFields`. A policy that ignores the field lists therefore treats the qualified form as
 * the unqualified one, which is the conservative reading.
 */
import {
  type BareItem,
  isInnerList,
  type ListMember,
  Token,
  tryParseDictionary,
} from "./structured-fields.ts";

export interface CacheControl {
  // response + request, seconds
  maxAge?: number;
  sMaxAge?: number;
  noCache: boolean;
  /** qualified form no-cache="a, b" → lowercase field names */
  noCacheFields?: string[];
  noStore: boolean;
  private: boolean;
  /** qualified form private="set-cookie" → lowercase field names */
  privateFields?: string[];
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  mustUnderstand: boolean;
  noTransform: boolean;
  immutable: boolean;
  /** RFC 5861 */
  staleWhileRevalidate?: number;
  staleIfError?: number;
  // request-only
  /** Infinity when `max-stale` has no value */
  maxStale?: number;
  minFresh?: number;
  onlyIfCached: boolean;
  /** true when any delta-seconds directive was invalid or conflicting and was made conservative */
  invalid: boolean;
}

/** RFC 9111 §1.2.2: a delta-seconds value too large to represent is taken as 2^31. */
export const DELTA_SECONDS_MAX = 2147483648;

/**
 * Parses delta-seconds (`1*DIGIT`, RFC 9111 §1.2.2) in `s[start, end)`, clamping at 2^31;
 * returns -1 when invalid or empty. Linear, and never builds a huge number from a long digit run.
 */
export function parseDeltaSeconds(text: string, start = 0, end = text.length): number {
  if (start >= end) return -1;
  let n = 0;
  for (let k = start; k < end; k++) {
    const c = text.charCodeAt(k) - 0x30;
    if (c < 0 || c > 9) return -1;
    if (n < DELTA_SECONDS_MAX) n = n * 10 + c;
  }
  return Math.min(n, DELTA_SECONDS_MAX);
}

function emptyCacheControl(): CacheControl {
  return {
    noCache: false,
    noStore: false,
    private: false,
    public: false,
    mustRevalidate: false,
    proxyRevalidate: false,
    mustUnderstand: false,
    noTransform: false,
    immutable: false,
    onlyIfCached: false,
    invalid: false,
  };
}

// Delta-seconds directives are accumulated in a small array (UNSET / POISONED / value) and copied
// into the result once, which keeps the result object's shape stable and the loop monomorphic.
const MAX_AGE = 0;
const S_MAXAGE = 1;
const SWR = 2;
const SIE = 3;
const MAX_STALE = 4;
const MIN_FRESH = 5;
const UNSET = -1;
const POISONED = -2;

interface Acc {
  cc: CacheControl;
  deltas: number[];
}

function newAcc(): Acc {
  return { cc: emptyCacheControl(), deltas: [UNSET, UNSET, UNSET, UNSET, UNSET, UNSET] };
}

/**
 * Records one occurrence of a delta-seconds directive. `n` is the parsed value or -1 if invalid.
 * RFC 9111 §4.2.1: invalid freshness information makes the response stale (max-age, s-maxage →
 * 0); duplicates keep the most restrictive value. For the directives that only widen what a
 * cache may do (stale-*, max-stale) an invalid occurrence removes the directive instead.
 */
function setDelta(acc: Acc, idx: number, n: number): void {
  const d = acc.deltas;
  const prev = d[idx]!;
  if (n < 0) {
    acc.cc.invalid = true;
    if (idx !== MAX_AGE && idx !== S_MAXAGE) {
      d[idx] = POISONED;
      return;
    }
    n = 0;
  }
  if (prev === POISONED) return;
  if (prev === UNSET) {
    d[idx] = n;
    return;
  }
  if (prev !== n) acc.cc.invalid = true;
  // min-fresh asks for *more* freshness, so its restrictive value is the largest.
  d[idx] = idx === MIN_FRESH ? Math.max(prev, n) : Math.min(prev, n);
}

function finish(acc: Acc): CacheControl {
  const { cc, deltas: d } = acc;
  if (d[MAX_AGE]! >= 0) cc.maxAge = d[MAX_AGE];
  if (d[S_MAXAGE]! >= 0) cc.sMaxAge = d[S_MAXAGE];
  if (d[SWR]! >= 0) cc.staleWhileRevalidate = d[SWR];
  if (d[SIE]! >= 0) cc.staleIfError = d[SIE];
  if (d[MAX_STALE]! >= 0) cc.maxStale = d[MAX_STALE];
  if (d[MIN_FRESH]! >= 0) cc.minFresh = d[MIN_FRESH];
  return cc;
}

const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Field-name lists of qualified no-cache / private (RFC 9111 §5.2.2.4, §5.2.2.7). An empty or
 * unusable list returns undefined so the directive reads as unqualified (conservative).
 */
function fieldList(raw: string): string[] | undefined {
  // A Set keeps de-duplication linear: a client can send thousands of names.
  const out = new Set<string>();
  for (const part of raw.split(",")) {
    const name = part.trim().toLowerCase();
    if (name !== "" && FIELD_NAME.test(name)) out.add(name);
  }
  return out.size > 0 ? [...out] : undefined;
}

// A directive's id is its index here: the six delta-seconds directives first (they index
// Acc.deltas), then the two with field lists, then the flags, in FLAGS order.
const DIRECTIVES = [
  "max-age", // RFC 9111 §5.2.1.1, §5.2.2.1
  "s-maxage", // §5.2.2.10
  "stale-while-revalidate", // RFC 5861 §3
  "stale-if-error", // RFC 5861 §4
  "max-stale", // §5.2.1.2
  "min-fresh", // §5.2.1.3
  "no-cache", // §5.2.1.4, §5.2.2.4
  "private", // §5.2.2.7
  "no-store", // §5.2.1.5, §5.2.2.5
  "public", // §5.2.2.9
  "must-revalidate", // §5.2.2.2
  "proxy-revalidate", // §5.2.2.8
  "must-understand", // §5.2.2.3
  "no-transform", // §5.2.1.6, §5.2.2.6
  "immutable", // RFC 8246
  "only-if-cached", // §5.2.1.7
];
const NO_CACHE = 6;
const PRIVATE = 7;
const NO_STORE = 8;
const FLAGS = [
  "noStore",
  "public",
  "mustRevalidate",
  "proxyRevalidate",
  "mustUnderstand",
  "noTransform",
  "immutable",
  "onlyIfCached",
] as const;

// Buckets by name length: a directive is recognised by comparing characters in place, without
// slicing or lowercasing a string per directive (this runs for every request and response).
const BY_LENGTH: [string, number][][] = [];
DIRECTIVES.forEach((name, id) => {
  const bucket = BY_LENGTH[name.length] ?? [];
  bucket.push([name, id]);
  BY_LENGTH[name.length] = bucket;
});

/** The directive id of `s[start, end)`, compared ASCII-case-insensitively (RFC 9111 §5.2); -1. */
function directiveId(s: string, start: number, end: number): number {
  const bucket = BY_LENGTH[end - start];
  if (bucket === undefined) return -1;
  next: for (let b = 0; b < bucket.length; b++) {
    const d = bucket[b]!;
    const name = d[0];
    for (let k = 0; k < name.length; k++) {
      let c = s.charCodeAt(start + k);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== name.charCodeAt(k)) continue next;
    }
    return d[1];
  }
  return -1;
}

/**
 * Applies directive `id` whose argument is `s[start, end)`, or which has none when start < 0.
 * RFC 9111 §5.2.3: unknown directives are ignored; a flag given an argument still counts.
 */
function apply(acc: Acc, id: number, s: string, start: number, end: number): void {
  if (id < 0) return;
  if (id <= MIN_FRESH) {
    // RFC 9111 §5.2.1.2: max-stale without a value accepts a response stale by any amount.
    if (start < 0) setDelta(acc, id, id === MAX_STALE ? Number.POSITIVE_INFINITY : -1);
    else setDelta(acc, id, parseDeltaSeconds(s, start, end));
  } else if (id === NO_CACHE || id === PRIVATE) {
    const arg = start < 0 ? undefined : s.slice(start, end);
    if (id === NO_CACHE) qualified(acc.cc, "noCache", "noCacheFields", arg);
    else qualified(acc.cc, "private", "privateFields", arg);
  } else acc.cc[FLAGS[id - NO_STORE]!] = true;
}

function qualified(
  cc: CacheControl,
  flag: "noCache" | "private",
  listKey: "noCacheFields" | "privateFields",
  value: string | undefined,
): void {
  const wasUnqualified = cc[flag] && cc[listKey] === undefined;
  cc[flag] = true;
  const fields = value === undefined ? undefined : fieldList(value);
  // Any unqualified occurrence wins: it restricts the whole response.
  if (wasUnqualified || fields === undefined) {
    if (cc[listKey] !== undefined) cc[listKey] = undefined;
    return;
  }
  const prev = cc[listKey];
  cc[listKey] = prev === undefined ? fields : [...new Set([...prev, ...fields])];
}

const isOWS = (c: number) => c === 0x20 || c === 0x09;
// An argument that is neither valid delta-seconds nor a valid field name.
const INVALID = "\u0000";

/**
 * RFC 9111 §5.2: `#cache-directive`, `cache-directive = token [ "=" ( token / quoted-string ) ]`.
 * One linear scan; commas inside a quoted-string do not split; names are case-insensitive.
 */
export function parseCacheControl(value: string | null | undefined): CacheControl {
  const acc = newAcc();
  if (!value) return acc.cc;
  const s = value;
  const n = s.length;
  let i = 0;
  while (i < n) {
    // directive name: up to "=" or ","
    while (i < n && isOWS(s.charCodeAt(i))) i++;
    const nameStart = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x3d || c === 0x2c) break;
      i++;
    }
    let nameEnd = i;
    while (nameEnd > nameStart && isOWS(s.charCodeAt(nameEnd - 1))) nameEnd--;
    const id = directiveId(s, nameStart, nameEnd);
    if (i < n && s.charCodeAt(i) === 0x3d) {
      i++;
      while (i < n && isOWS(s.charCodeAt(i))) i++;
      if (s.charCodeAt(i) === 0x22) {
        // quoted-string (RFC 9110 §5.6.4) with quoted-pair unescaping
        i++;
        let arg = "";
        let run = i;
        while (i < n) {
          const c = s.charCodeAt(i);
          if (c === 0x22) break;
          if (c === 0x5c && i + 1 < n) {
            arg += s.slice(run, i);
            run = ++i;
          }
          i++;
        }
        arg += s.slice(run, i);
        // An unterminated quoted-string, or anything but OWS between the closing quote and the
        // next comma, makes the argument invalid.
        let clean = i < n;
        i++;
        for (; i < n && s.charCodeAt(i) !== 0x2c; i++) if (!isOWS(s.charCodeAt(i))) clean = false;
        if (!clean) arg = INVALID;
        apply(acc, id, arg, 0, arg.length);
      } else {
        const argStart = i;
        while (i < n && s.charCodeAt(i) !== 0x2c) i++;
        let argEnd = i;
        while (argEnd > argStart && isOWS(s.charCodeAt(argEnd - 1))) argEnd--;
        apply(acc, id, s, argStart, argEnd);
      }
    } else apply(acc, id, s, -1, -1);
    i++; // skip ","
  }
  return finish(acc);
}

/**
 * RFC 9213 CDN-Cache-Control (and other targeted fields): a Structured Field Dictionary
 * (RFC 8941 §3.2). Returns null when absent, empty, or not a valid dictionary: RFC 9213 §2.1
 * says such a field MUST be ignored, so the caller falls back to Cache-Control. Parameters on
 * members are ignored.
 */
export function parseTargetedCacheControl(value: string | null | undefined): CacheControl | null {
  if (!value) return null;
  const dict = tryParseDictionary(value);
  if (dict === null || dict.size === 0) return null;
  const acc = newAcc();
  for (const [name, member] of dict) {
    // An explicit Boolean false (`no-store=?0`) switches a flag directive off; for a
    // delta-seconds directive it is a wrong type and is handled as invalid by targetedArg.
    const id = directiveId(name, 0, name.length);
    if (member.value === false && id > MIN_FRESH) continue;
    const arg = targetedArg(name, member);
    if (arg === undefined) apply(acc, id, name, -1, -1);
    else apply(acc, id, arg, 0, arg.length);
  }
  return finish(acc);
}

/**
 * Converts an SF member into the textual argument `apply` understands, so both fields share the
 * conservative handling. A wrong type (e.g. a Decimal or String for max-age) becomes an invalid
 * argument; Boolean true means "no argument".
 */
function targetedArg(name: string, member: ListMember): string | undefined {
  if (isInnerList(member)) {
    // Only no-cache / private take lists of field names; elsewhere a list is a wrong type.
    if (name !== "no-cache" && name !== "private") return INVALID;
    return member.value.map((item) => bareText(item.value)).join(",");
  }
  const v = member.value;
  if (v === true) return undefined;
  if (typeof v === "number") {
    return Number.isInteger(v) && member.decimal !== true && v >= 0 ? String(v) : INVALID;
  }
  if (name === "no-cache" || name === "private") return bareText(v);
  return INVALID;
}

function bareText(v: BareItem): string {
  if (typeof v === "string") return v;
  if (v instanceof Token) return v.value;
  return INVALID; // not a field name; dropped by fieldList
}
