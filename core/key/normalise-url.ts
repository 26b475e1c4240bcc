/**
 * URL normalisation for the cache key (RFC 3986 §6.2.2, syntax-based normalisation).
 *
 * The result is also the URL forwarded to the origin: the key must describe the request
 * actually sent, so a query parameter left out of the key (tracking, deny-listed, …) is
 * left out of the forwarded URL too. Otherwise the first visitor's `?debug=1` would be
 * stored under the key of every visitor (cache poisoning).
 *
 * Done by the WHATWG URL parser, parsed at most once (./split-url.ts skips it for a URL
 * that is already in its serialised form, as every Request.url is): scheme and host lowercased
 * (§6.2.2.1), IDNs to punycode, default port removed (§6.2.3), dot segments removed
 * (§6.2.2.3, including `%2E` forms), empty path → "/", fragment dropped (never sent),
 * non-ASCII percent-encoded as UTF-8. Done here: percent-encoding normalised
 * (./percent-encoding.ts) in path and query; query pairs filtered and stably sorted.
 *
 * Parameter names are compared percent-decoded (`utm%5Fsource` is `utm_source`) and
 * case-sensitively, as origin frameworks read them (`Page` is not `page`); only tracking
 * names are matched case-insensitively, since dropping `UTM_Source` loses nothing.
 *
 * Deliberately not done:
 * - `+` and `%20` stay different. `+` means space only in HTML form encoding; RFC 3986
 *   gives it no meaning, and origins differ (`?q=c++`, signed URLs, base64 values), so
 *   merging them could serve one resource for another. The cost of keeping them apart is
 *   at most a duplicate entry.
 * - The query is split on "&" only; ";" is data to many origins.
 * - Userinfo is dropped: it is never part of the key and must never reach an origin
 *   from a client.
 * - No length limit: callers bound request line size; this code is linear in the input.
 */
import type { KeySpec } from "../config/schema.ts";
import { hexValue, normalisePercentEncoding } from "./percent-encoding.ts";
import { splitSerialisedUrl, type UrlParts } from "./split-url.ts";

export interface NormalisedUrl {
  /** Canonical absolute URL to forward to the origin. */
  readonly url: string;
  /** Lowercase, without ":" (e.g. "https"). */
  readonly scheme: string;
  /** Lowercase hostname, plus ":port" only when not the scheme's default. */
  readonly host: string;
  /** Normalised path, always starting with "/" for http(s). */
  readonly path: string;
  /** Normalised query without "?"; "" when none is kept. */
  readonly query: string;
}

type QuerySpec = KeySpec["query"];

/** Exact names and "prefix*" prefixes, precompiled from a list of patterns. */
interface NameMatcher {
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
}

interface CompiledQuery {
  readonly mode: QuerySpec["mode"];
  readonly sort: boolean;
  readonly params: NameMatcher;
  /** Lowercased: tracking parameters are matched case-insensitively (`UTM_Source` too). */
  readonly tracking: NameMatcher | null;
}

function nameMatcher(patterns: readonly string[], lower: boolean): NameMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const raw of patterns) {
    const p = lower ? raw.toLowerCase() : raw;
    if (p.endsWith("*")) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return { exact, prefixes };
}

function matches(m: NameMatcher, name: string): boolean {
  if (m.exact.has(name)) return true;
  const prefixes = m.prefixes;
  for (let i = 0; i < prefixes.length; i++) if (name.startsWith(prefixes[i] as string)) return true;
  return false;
}

// Compiled once per spec object; a config is validated once and then never changes.
const compiledQueries = new WeakMap<QuerySpec, CompiledQuery>();

// The spec seen last, so the hot path skips even the WeakMap lookup.
let lastSpec: QuerySpec | null = null;
let lastCompiled: CompiledQuery | null = null;

function compileQuery(q: QuerySpec): CompiledQuery {
  if (q === lastSpec && lastCompiled !== null) return lastCompiled;
  let c = compiledQueries.get(q);
  if (c === undefined) {
    c = {
      mode: q.mode,
      sort: q.sort,
      params: nameMatcher(q.params, false),
      tracking: q.dropTracking ? nameMatcher(q.trackingParams, true) : null,
    };
    compiledQueries.set(q, c);
  }
  lastSpec = q;
  lastCompiled = c;
  return c;
}

/**
 * A parameter's name as compared with configured names: percent-decoded as UTF-8.
 * Invalid escapes stay as written and invalid UTF-8 becomes U+FFFD, so this never throws
 * (decodeURIComponent does, once per bad parameter: a cheap way for a client to burn CPU).
 */
function decodedName(name: string): string {
  let pct = name.indexOf("%");
  if (pct === -1) return name;
  let ascii = "";
  let copied = 0;
  while (pct !== -1) {
    const hi = hexValue(name.charCodeAt(pct + 1));
    const lo = hi === -1 ? -1 : hexValue(name.charCodeAt(pct + 2));
    if (lo === -1) {
      pct = name.indexOf("%", pct + 1);
      continue;
    }
    if (hi >= 8) return decodeUtf8(name); // a multi-byte character: the general path
    ascii += name.slice(copied, pct) + String.fromCharCode(hi * 16 + lo);
    copied = pct + 3;
    pct = name.indexOf("%", copied);
  }
  return ascii + name.slice(copied);
}

const utf8Encoder = new TextEncoder();
// Not fatal (the default): invalid UTF-8 decodes to U+FFFD instead of throwing.
const utf8Decoder = new TextDecoder();

function decodeUtf8(name: string): string {
  const bytes: number[] = [];
  let i = 0;
  while (i < name.length) {
    const hi = name.charCodeAt(i) === 0x25 ? hexValue(name.charCodeAt(i + 1)) : -1;
    const lo = hi === -1 ? -1 : hexValue(name.charCodeAt(i + 2));
    if (lo !== -1) {
      bytes.push(hi * 16 + lo);
      i += 3;
    } else {
      let end = name.indexOf("%", i + 1);
      if (end === -1) end = name.length;
      for (const b of utf8Encoder.encode(name.slice(i, end))) bytes.push(b);
      i = end;
    }
  }
  return utf8Decoder.decode(Uint8Array.from(bytes));
}

function keep(c: CompiledQuery, rawName: string): boolean {
  const name = decodedName(rawName);
  if (c.tracking !== null && matches(c.tracking, name.toLowerCase())) return false;
  if (c.mode === "allow") return matches(c.params, name);
  if (c.mode === "deny") return !matches(c.params, name);
  return true;
}

interface Pair {
  readonly name: string;
  readonly text: string;
}

function byName(a: Pair, b: Pair): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Normalise a raw query (without "?"). */
export function normaliseQuery(raw: string, spec: QuerySpec): string {
  if (raw === "") return "";
  const c = compileQuery(spec);
  if (c.mode === "none") return "";
  const pairs: Pair[] = [];
  const len = raw.length;
  let start = 0;
  while (start < len) {
    let end = raw.indexOf("&", start);
    if (end === -1) end = len;
    if (end > start) {
      // Each pair keeps its own encoding, normalised like the path (RFC 3986 §6.2.2.2).
      const text = normalisePercentEncoding(raw.slice(start, end));
      const eq = text.indexOf("=");
      const name = eq === -1 ? text : text.slice(0, eq);
      if (keep(c, name)) pairs.push({ name, text });
    }
    start = end + 1;
  }
  if (pairs.length === 0) return "";
  // A stable sort: repeated names keep their relative order, since `a=2&a=1` may be an
  // ordered list to the origin.
  if (c.sort && pairs.length > 1) sortByName(pairs);
  let out = (pairs[0] as Pair).text;
  for (let i = 1; i < pairs.length; i++) out += `&${(pairs[i] as Pair).text}`;
  return out;
}

/**
 * Stable sort by name. Queries are short, so an insertion sort (stable, no comparator
 * calls, nothing to do when already sorted) beats Array.prototype.sort; long ones use it.
 */
function sortByName(pairs: Pair[]): void {
  const n = pairs.length;
  if (n > 16) {
    pairs.sort(byName);
    return;
  }
  for (let i = 1; i < n; i++) {
    const p = pairs[i] as Pair;
    let j = i - 1;
    while (j >= 0 && (pairs[j] as Pair).name > p.name) {
      pairs[j + 1] = pairs[j] as Pair;
      j--;
    }
    pairs[j + 1] = p;
  }
}

/** Normalise a request URL per the key spec. Never throws for a URL object or parsable string. */
export function normaliseUrl(input: string | URL, spec: KeySpec): NormalisedUrl {
  // Request.url in both runtimes is already WHATWG-serialised: split it without parsing.
  const fast = typeof input === "string" ? splitSerialisedUrl(input) : null;
  if (fast !== null) return assemble(fast, true, spec);
  const u = typeof input === "string" ? new URL(input) : input;
  // `host` omits a default port already; the parser lowercases and punycodes it.
  const hasAuthority = u.host !== "" || u.href.startsWith(`${u.protocol}//`);
  return assemble(u, hasAuthority, spec);
}

function assemble(u: UrlParts, hasAuthority: boolean, spec: KeySpec): NormalisedUrl {
  const scheme = u.protocol.slice(0, -1);
  const host = u.host;
  const path = normalisePercentEncoding(u.pathname);
  const search = u.search;
  const query = search.length <= 1 ? "" : normaliseQuery(search.slice(1), spec.query);
  let url: string;
  if (hasAuthority) {
    url = `${u.protocol}//${host}${path}`;
  } else {
    // No authority (e.g. `foo:/x`): a path starting with "//" needs "/." so it is not
    // read back as an authority (WHATWG URL serialising, step "/.").
    url = `${u.protocol}${path.startsWith("//") ? "/." : ""}${path}`;
  }
  if (query !== "") url += `?${query}`;
  return { url, scheme, host, path, query };
}
