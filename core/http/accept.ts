/**
 * Accept (RFC 9110 §12.5.1) and the quality lookup used for content negotiation.
 *
 *   Accept = #( media-range [ weight ] )
 *   media-range = ( "*\/*" / ( type "/" "*" ) / ( type "/" subtype ) ) parameters
 *   weight = OWS ";" OWS "q=" qvalue
 *   qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 */

export interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  params: Record<string, string>;
}

// tchar (RFC 9110 §5.6.2) as a lookup table: the scanner below is one linear pass, no regex.
const TCHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[ch.charCodeAt(0)] = 1;
}
const isTchar = (c: number) => c < 128 && TCHAR[c] === 1;
const isOWS = (c: number) => c === 0x20 || c === 0x09;
// Parameter names come from the client, so parameter objects have no prototype: on a plain
// object `__proto__=1` would set nothing (the range then looks parameterless and matches),
// and reading `params.constructor` would find a function where a value was expected.
const NO_PARAMS: Record<string, string> = Object.freeze(Object.create(null));

interface Cursor {
  s: string;
  i: number;
}

/** Scans a token at the cursor; returns it lowercased, or null when empty. */
function lowerToken(cur: Cursor): string | null {
  const start = cur.i;
  let upper = false;
  for (let c = cur.s.charCodeAt(cur.i); isTchar(c); c = cur.s.charCodeAt(++cur.i)) {
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  if (cur.i === start) return null;
  const t = cur.s.slice(start, cur.i);
  return upper ? t.toLowerCase() : t;
}

/** RFC 9110 §12.4.2 qvalue → thousandths, or -1: ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). */
function qvalue(cur: Cursor): number {
  const s = cur.s;
  const lead = s.charCodeAt(cur.i);
  if (lead !== 0x30 && lead !== 0x31) return -1;
  cur.i++;
  let q = lead === 0x31 ? 1000 : 0;
  if (s.charCodeAt(cur.i) !== 0x2e) return q;
  cur.i++;
  for (let scale = 100, n = 0; ; n++, scale /= 10) {
    const d = s.charCodeAt(cur.i) - 0x30;
    if (!(d >= 0 && d <= 9)) return q;
    if (n === 3 || (lead === 0x31 && d !== 0)) return -1; // a 4th decimal, or above 1
    q += d * scale;
    cur.i++;
  }
}

/** A parameter value: token or quoted-string (RFC 9110 §5.6.6); null when neither. */
function paramValue(cur: Cursor): string | null {
  const s = cur.s;
  if (s.charCodeAt(cur.i) !== 0x22) {
    const start = cur.i;
    while (isTchar(s.charCodeAt(cur.i))) cur.i++;
    return cur.i === start ? null : s.slice(start, cur.i);
  }
  let out = "";
  let run = ++cur.i;
  for (; cur.i < s.length; cur.i++) {
    const c = s.charCodeAt(cur.i);
    if (c === 0x22) {
      out += s.slice(run, cur.i++);
      return out;
    }
    if (c === 0x5c) {
      out += s.slice(run, cur.i++);
      run = cur.i;
    }
  }
  return null; // unterminated
}

/** Parses one member at the cursor; leaves the cursor at the "," or end that follows it. */
function parseMember(cur: Cursor): MediaRange | null {
  const s = cur.s;
  const type = lowerToken(cur);
  if (type === null || s.charCodeAt(cur.i) !== 0x2f) return null;
  cur.i++;
  const subtype = lowerToken(cur);
  if (subtype === null) return null;
  if (type === "*" && subtype !== "*") return null; // "*/html" is not a media-range
  let q = 1000;
  let params = NO_PARAMS;
  for (;;) {
    while (isOWS(s.charCodeAt(cur.i))) cur.i++;
    const c = s.charCodeAt(cur.i);
    if (cur.i >= s.length || c === 0x2c) break;
    if (c !== 0x3b) return null;
    cur.i++;
    while (isOWS(s.charCodeAt(cur.i))) cur.i++;
    const next = s.charCodeAt(cur.i);
    if (cur.i >= s.length || next === 0x2c || next === 0x3b) continue; // empty parameter
    const name = lowerToken(cur);
    if (name === null || s.charCodeAt(cur.i) !== 0x3d) return null;
    cur.i++;
    if (name === "q") {
      // An invalid or out-of-range weight makes the whole member unusable: it is ignored.
      q = qvalue(cur);
      if (q < 0) return null;
      continue;
    }
    const v = paramValue(cur);
    if (v === null) return null;
    if (params === NO_PARAMS) params = Object.create(null) as Record<string, string>;
    params[name] = v;
  }
  return { type, subtype, q: q / 1000, params };
}

/**
 * Parses Accept into media ranges in field order. Types, subtypes and parameter names are
 * lowercased (case-insensitive, RFC 9110 §8.3.1); parameter values are kept as sent (unquoted).
 * Invalid members, including those with an invalid q, are skipped. Absent or empty → [].
 * Members without parameters share one frozen empty `params` object. `params` objects have
 * no prototype: only the parameters the client sent are found in them.
 */
export function parseAccept(value: string | null | undefined): MediaRange[] {
  const out: MediaRange[] = [];
  if (!value) return out;
  const cur: Cursor = { s: value, i: 0 };
  const n = value.length;
  while (cur.i < n) {
    const c = value.charCodeAt(cur.i);
    if (isOWS(c) || c === 0x2c) {
      cur.i++;
      continue;
    }
    const r = parseMember(cur);
    if (r !== null) out.push(r);
    else {
      // Skip the rest of an invalid member, up to a comma outside a quoted-string.
      for (let quoted = false; cur.i < n; cur.i++) {
        const ch = value.charCodeAt(cur.i);
        if (quoted && ch === 0x5c) cur.i++;
        else if (ch === 0x22) quoted = !quoted;
        else if (ch === 0x2c && !quoted) break;
      }
    }
  }
  return out;
}

/**
 * The quality the client gives `type/subtype` (a representation without media-type parameters):
 * the q of the most specific matching range, exact > `type/*` > `*\/*` (RFC 9110 §12.5.1: "the
 * most specific reference has precedence"); 0 when none matches. Ranges with parameters other
 * than q only match representations with those parameters, so they never match here. When the
 * same range appears more than once the lowest q wins (a client's explicit refusal is honoured).
 * With `explicitOnly`, only an exact `type/subtype` range counts (e.g. serve AVIF only to
 * clients that name it, not to `*\/*`). Arguments are compared case-insensitively.
 */
export function qualityOf(
  ranges: readonly MediaRange[],
  type: string,
  subtype: string,
  options?: { explicitOnly?: boolean },
): number {
  const t = type.toLowerCase();
  const st = subtype.toLowerCase();
  const explicitOnly = options?.explicitOnly === true;
  let best = -1; // 3 = exact, 2 = type/*, 1 = */*
  let q = 0;
  for (const r of ranges) {
    let rank: number;
    if (r.type === t && r.subtype === st) rank = 3;
    else if (explicitOnly) continue;
    else if (r.type === t && r.subtype === "*") rank = 2;
    else if (r.type === "*" && r.subtype === "*") rank = 1;
    else continue;
    for (const _ in r.params) {
      rank = 0; // has a parameter: does not match a parameterless representation
      break;
    }
    if (rank === 0) continue;
    if (rank > best) {
      best = rank;
      q = r.q;
    } else if (rank === best && r.q < q) q = r.q;
  }
  return q;
}
