/**
 * Cache-Status (RFC 9211): one List member per cache, each a Token or String naming the cache,
 * with parameters saying what it did (§2). The cache nearest the origin comes first and each
 * cache appends its own member (§2: "the first member of the list represents the cache closest
 * to the origin server, and the last member ... the cache closest to the user").
 */
import {
  isInnerList,
  isValidString,
  isValidToken,
  type Params,
  serializeBareItem,
  Token,
  tryParseList,
} from "./structured-fields.ts";

export type CacheStatusFwd =
  | "bypass"
  | "method"
  | "uri-miss"
  | "vary-miss"
  | "miss"
  | "request"
  | "stale"
  | "partial";

export interface CacheStatusMember {
  /** e.g. "shield", "edge" */
  cache: string;
  hit?: boolean;
  fwd?: CacheStatusFwd;
  fwdStatus?: number;
  ttl?: number;
  stored?: boolean;
  collapsed?: boolean;
  key?: string;
  detail?: string;
}

// RFC 9211 §2.2: the registered fwd values.
const FWD = new Set<string>([
  "bypass",
  "method",
  "uri-miss",
  "vary-miss",
  "miss",
  "request",
  "stale",
  "partial",
]);

// RFC 8941 §3.3.1: Integers have at most 15 digits.
const INT_MAX = 999_999_999_999_999;

/**
 * Makes `s` serializable as an SF String (printable ASCII, RFC 8941 §3.3.3) without throwing:
 * other characters are percent-encoded as UTF-8 (a lone surrogate as U+FFFD). Cache-Status is
 * written on every response, so a strange URL in `key` must not turn into a 500.
 */
function printable(s: string): string {
  if (isValidString(s)) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0x20 && c <= 0x7e) out += ch;
    else if (c >= 0xd800 && c <= 0xdfff && ch.length === 1) out += "%EF%BF%BD";
    else
      out +=
        c < 0x80 ? `%${c.toString(16).toUpperCase().padStart(2, "0")}` : encodeURIComponent(ch);
  }
  return out;
}

function tokenOrString(s: string): Token | string {
  return isValidToken(s) ? new Token(s) : printable(s);
}

function integer(n: number | undefined): number | undefined {
  if (n === undefined || !Number.isFinite(n)) return undefined;
  return Math.max(-INT_MAX, Math.min(INT_MAX, Math.floor(n)));
}

/**
 * Serializes one member, e.g. `shield; hit; ttl=300` (RFC 9211 §2, RFC 8941 §4.1.3). Never
 * throws: the cache name and `detail` are Tokens when valid and Strings otherwise, `key` is
 * always a String; non-printable characters are percent-encoded, `ttl`/`fwd-status` are floored
 * to integers and dropped when not finite; `fwd` is dropped when `hit` is true. Booleans that
 * are true are written bare (`hit`), false ones explicitly (`collapsed=?0`, which RFC 9211 §3
 * uses for a failed collapse).
 */
export function formatCacheStatusMember(member: CacheStatusMember): string {
  if (isPlainHit(member)) {
    // Every hit writes this member: the same bytes as below, without building them.
    const ttl = integer(member.ttl);
    const name = cacheName(member.cache);
    return ttl === undefined ? `${name}; hit` : `${name}; hit; ttl=${ttl === 0 ? 0 : ttl}`;
  }
  const params: Params = new Map();
  if (member.hit !== undefined) params.set("hit", member.hit);
  // RFC 9211 §2: hit and fwd are exclusive, only one should appear on a member. A stale hit
  // revalidated in the background is still a hit (§3: "hit; ttl=-412"), so hit wins.
  if (member.fwd !== undefined && member.hit !== true && FWD.has(member.fwd)) {
    params.set("fwd", new Token(member.fwd));
  }
  const fwdStatus = integer(member.fwdStatus);
  if (fwdStatus !== undefined) params.set("fwd-status", fwdStatus);
  const ttl = integer(member.ttl);
  if (ttl !== undefined) params.set("ttl", ttl);
  if (member.stored !== undefined) params.set("stored", member.stored);
  if (member.collapsed !== undefined) params.set("collapsed", member.collapsed);
  if (member.key !== undefined) params.set("key", printable(member.key));
  if (member.detail !== undefined) params.set("detail", tokenOrString(member.detail));
  // RFC 8941 §4.1.1.2 writes ";key"; RFC 9211 §3's examples put a space after each ";", which
  // parsers skip (RFC 8941 §4.2.3.2 step 2.3), so the readable form is used.
  let out = serializeBareItem(tokenOrString(member.cache === "" ? "unknown" : member.cache));
  for (const [k, v] of params) out += v === true ? `; ${k}` : `; ${k}=${serializeBareItem(v)}`;
  return out;
}

/** A member with `hit` and at most a `ttl`: what every hit writes. */
function isPlainHit(member: CacheStatusMember): boolean {
  return (
    member.hit === true &&
    member.fwdStatus === undefined &&
    member.stored === undefined &&
    member.collapsed === undefined &&
    member.key === undefined &&
    member.detail === undefined
  );
}

/** Cache names come from configuration, so there are few: each is serialised once. */
const cacheNames = new Map<string, string>();

function cacheName(name: string): string {
  let out = cacheNames.get(name);
  if (out === undefined) {
    out = serializeBareItem(tokenOrString(name === "" ? "unknown" : name));
    if (cacheNames.size < 64) cacheNames.set(name, out);
  }
  return out;
}

/**
 * Appends this cache's member after what the caches nearer the origin wrote (RFC 9211 §2). The
 * existing value is kept verbatim, even when it does not parse, so upstream information is never
 * lost; only trailing OWS and commas are trimmed so the result stays a well-formed list.
 */
export function appendCacheStatus(
  existing: string | null | undefined,
  member: CacheStatusMember,
): string {
  const own = formatCacheStatusMember(member);
  if (!existing) return own;
  let end = existing.length;
  for (let c = existing.charCodeAt(end - 1); c === 0x20 || c === 0x09 || c === 0x2c; ) {
    c = existing.charCodeAt(--end - 1);
  }
  let start = 0;
  while (
    start < end &&
    (existing.charCodeAt(start) === 0x20 || existing.charCodeAt(start) === 0x09)
  ) {
    start++;
  }
  return start === end ? own : `${existing.slice(start, end)}, ${own}`;
}

/**
 * Parses Cache-Status. Tolerant by design (it is debugging information): a value that is not a
 * valid SF List gives [] (RFC 8941 §4.2 fails the whole field), members that are Inner Lists are
 * skipped, and parameters that are unknown or of the wrong type are ignored (RFC 9211 §2:
 * "Caches SHOULD ignore ... parameters that they do not understand"; unknown `fwd` values too).
 */
export function parseCacheStatus(value: string | null | undefined): CacheStatusMember[] {
  if (!value) return [];
  const list = tryParseList(value);
  if (list === null) return [];
  const out: CacheStatusMember[] = [];
  for (const member of list) {
    if (isInnerList(member)) continue;
    const v = member.value;
    // RFC 9211 §2: members "MUST have a type of either String or Token".
    let cache: string;
    if (typeof v === "string") cache = v;
    else if (v instanceof Token) cache = v.value;
    else continue;
    const m: CacheStatusMember = { cache };
    for (const [name, p] of member.params) {
      switch (name) {
        case "hit":
        case "stored":
        case "collapsed":
          if (typeof p === "boolean") m[name] = p;
          break;
        case "fwd":
          if (p instanceof Token && FWD.has(p.value)) m.fwd = p.value as CacheStatusFwd;
          break;
        case "fwd-status":
          if (typeof p === "number" && Number.isInteger(p)) m.fwdStatus = p;
          break;
        case "ttl":
          if (typeof p === "number" && Number.isInteger(p)) m.ttl = p;
          break;
        case "key":
          if (typeof p === "string") m.key = p;
          break;
        case "detail":
          if (typeof p === "string") m.detail = p;
          else if (p instanceof Token) m.detail = p.value;
          break;
      }
    }
    out.push(m);
  }
  return out;
}

/**
 * Bounds on the upstream members a cache keeps with a stored response and relays: at most
 * this many members (the ones nearest this cache) and this many bytes once serialised.
 */
export const UPSTREAM_MEMBERS_MAX = 8;
export const UPSTREAM_BYTES_MAX = 1024;
/** A longer field is not parsed at all: only a hostile upstream writes one. */
const UPSTREAM_FIELD_MAX = 16 * 1024;

/**
 * The Cache-Status members the caches behind this one wrote (RFC 9211 §2), made safe to
 * keep with a stored response and to put before this cache's own member: members that do
 * not parse are dropped (an invalid list drops them all), each kept member is written
 * anew in canonical form (so nothing but known parameters survives), members carrying
 * this cache's own name are dropped (only this cache writes its member: one arriving
 * from upstream is forged, or a loop), and only the last UPSTREAM_MEMBERS_MAX members
 * within UPSTREAM_BYTES_MAX are kept, those nearest this cache. Null when none is left.
 */
export function upstreamCacheStatus(
  value: string | null | undefined,
  ownName: string,
): string | null {
  if (!value || value.length > UPSTREAM_FIELD_MAX) return null;
  const own = ownName.toLowerCase();
  const kept: string[] = [];
  let bytes = 0;
  const members = parseCacheStatus(value);
  for (let i = members.length - 1; i >= 0 && kept.length < UPSTREAM_MEMBERS_MAX; i--) {
    const member = members[i] as CacheStatusMember;
    if (member.cache.toLowerCase() === own) continue;
    const text = formatCacheStatusMember(member);
    // Two bytes for the ", " that joins it to the next.
    if (bytes + text.length + 2 > UPSTREAM_BYTES_MAX) break;
    bytes += text.length + 2;
    kept.push(text);
  }
  return kept.length === 0 ? null : kept.reverse().join(", ");
}
