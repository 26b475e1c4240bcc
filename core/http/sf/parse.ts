/** RFC 8941 §4.2: parsing Structured Field Values. Every failure throws StructuredFieldError. */
import { decodeBase64 } from "./base64.ts";
import {
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
  isAlpha,
  isDigit,
  isKeyChar,
  isLcAlpha,
  isTokenChar,
  type ListMember,
  type Params,
  type SfList,
  StructuredFieldError,
  Token,
} from "./types.ts";

interface State {
  s: string;
  i: number;
  /** set by parseNumber: whether the last number parsed was a Decimal */
  dec: boolean;
}

function fail(st: State, what: string): never {
  throw new StructuredFieldError(`${what} at offset ${st.i}`);
}

function skipSP(st: State): void {
  while (st.s.charCodeAt(st.i) === 0x20) st.i++;
}
function skipOWS(st: State): void {
  for (let c = st.s.charCodeAt(st.i); c === 0x20 || c === 0x09; c = st.s.charCodeAt(st.i)) st.i++;
}

/** RFC 8941 §4.2 steps 1, 2, 6, 7 around the type-specific algorithm. */
function parseField<T>(input: string, body: (st: State) => T): T {
  for (let k = 0; k < input.length; k++) {
    // Step 1: the field must be ASCII.
    if (input.charCodeAt(k) > 0x7f) throw new StructuredFieldError("non-ASCII character");
  }
  const st: State = { s: input, i: 0, dec: false };
  skipSP(st);
  const out = body(st);
  skipSP(st);
  if (st.i < st.s.length) fail(st, "unexpected trailing characters");
  return out;
}

export function parseList(input: string): SfList {
  return parseField(input, parseListBody);
}
export function parseDictionary(input: string): Dictionary {
  return parseField(input, parseDictionaryBody);
}
export function parseItem(input: string): Item {
  return parseField(input, parseItemAt);
}
/** Same as parseList but returns null on a parse failure. */
export function tryParseList(input: string): SfList | null {
  try {
    return parseList(input);
  } catch {
    return null;
  }
}
/** Same as parseDictionary but returns null on a parse failure. */
export function tryParseDictionary(input: string): Dictionary | null {
  try {
    return parseDictionary(input);
  } catch {
    return null;
  }
}

/** §4.2.1 (lists) and §4.2.2 (dictionaries) share the "member, OWS, comma, OWS" loop. */
function afterMember(st: State): boolean {
  skipOWS(st);
  if (st.i >= st.s.length) return false;
  if (st.s.charCodeAt(st.i) !== 0x2c) fail(st, "expected ','");
  st.i++;
  skipOWS(st);
  if (st.i >= st.s.length) fail(st, "trailing comma");
  return true;
}

function parseListBody(st: State): SfList {
  const members: SfList = [];
  if (st.i >= st.s.length) return members;
  do members.push(parseItemOrInnerList(st));
  while (afterMember(st));
  return members;
}

function parseDictionaryBody(st: State): Dictionary {
  const dict: Dictionary = new Map();
  if (st.i >= st.s.length) return dict;
  do {
    const key = parseKey(st);
    if (st.s.charCodeAt(st.i) === 0x3d) {
      st.i++;
      dict.set(key, parseItemOrInnerList(st));
    } else {
      dict.set(key, { value: true, params: parseParams(st) });
    }
  } while (afterMember(st));
  return dict;
}

function parseItemOrInnerList(st: State): ListMember {
  return st.s.charCodeAt(st.i) === 0x28 ? parseInnerList(st) : parseItemAt(st);
}

// §4.2.1.2
function parseInnerList(st: State): InnerList {
  st.i++; // "("
  const items: Item[] = [];
  while (st.i < st.s.length) {
    skipSP(st);
    if (st.s.charCodeAt(st.i) === 0x29) {
      st.i++;
      return { value: items, params: parseParams(st) };
    }
    items.push(parseItemAt(st));
    const c = st.s.charCodeAt(st.i);
    if (c !== 0x20 && c !== 0x29) fail(st, "expected SP or ')' in inner list");
  }
  return fail(st, "unterminated inner list");
}

// §4.2.3
function parseItemAt(st: State): Item {
  const c = st.s.charCodeAt(st.i);
  if (c === 0x2d || isDigit(c)) {
    const value = parseNumber(st);
    const decimal = st.dec;
    const params = parseParams(st);
    return decimal ? { value, params, decimal } : { value, params };
  }
  const value = parseBareItem(st);
  return { value, params: parseParams(st) };
}

// §4.2.3.1
function parseBareItem(st: State): BareItem {
  const c = st.s.charCodeAt(st.i);
  if (c === 0x2d || isDigit(c)) return parseNumber(st);
  if (c === 0x22) return parseString(st);
  if (isAlpha(c) || c === 0x2a) return parseToken(st);
  if (c === 0x3a) return parseByteSequence(st);
  if (c === 0x3f) return parseBoolean(st);
  return fail(st, "expected a bare item");
}

// §4.2.3.2
function parseParams(st: State): Params {
  const params: Params = new Map();
  while (st.s.charCodeAt(st.i) === 0x3b) {
    st.i++;
    skipSP(st);
    const key = parseKey(st);
    let value: BareItem = true;
    if (st.s.charCodeAt(st.i) === 0x3d) {
      st.i++;
      value = parseBareItem(st);
    }
    params.set(key, value);
  }
  return params;
}

// §4.2.3.3
function parseKey(st: State): string {
  const start = st.i;
  const c = st.s.charCodeAt(start);
  if (!isLcAlpha(c) && c !== 0x2a) fail(st, "expected a key");
  st.i++;
  while (isKeyChar(st.s.charCodeAt(st.i))) st.i++;
  return st.s.slice(start, st.i);
}

// §4.2.4: at most 15 integer digits; a decimal has at most 12 digits before and 3 after ".".
function parseNumber(st: State): number {
  const start = st.i;
  if (st.s.charCodeAt(st.i) === 0x2d) st.i++;
  const digitsStart = st.i;
  if (!isDigit(st.s.charCodeAt(st.i))) fail(st, "expected a digit");
  let dot = -1;
  for (;;) {
    const c = st.s.charCodeAt(st.i);
    if (isDigit(c)) st.i++;
    else if (c === 0x2e && dot === -1) {
      if (st.i - digitsStart > 12) fail(st, "decimal integer part too long");
      dot = st.i++;
    } else break;
    const len = st.i - digitsStart;
    if (dot === -1 ? len > 15 : len > 16) fail(st, "number too long");
  }
  st.dec = dot !== -1;
  if (dot !== -1) {
    const frac = st.i - dot - 1;
    if (frac === 0) fail(st, "decimal ends with '.'");
    if (frac > 3) fail(st, "decimal has more than 3 fractional digits");
  }
  // At most 16 ASCII digits: Number() is exact for integers and correctly rounded for decimals.
  return Number(st.s.slice(start, st.i));
}

// §4.2.5
function parseString(st: State): string {
  st.i++; // DQUOTE
  let out = "";
  let runStart = st.i;
  while (st.i < st.s.length) {
    const c = st.s.charCodeAt(st.i);
    if (c === 0x5c) {
      const next = st.s.charCodeAt(st.i + 1);
      if (next !== 0x22 && next !== 0x5c) fail(st, "invalid escape in string");
      out += st.s.slice(runStart, st.i) + String.fromCharCode(next);
      st.i += 2;
      runStart = st.i;
    } else if (c === 0x22) {
      out += st.s.slice(runStart, st.i);
      st.i++;
      return out;
    } else if (c < 0x20 || c > 0x7e) {
      fail(st, "invalid character in string");
    } else st.i++;
  }
  return fail(st, "unterminated string");
}

// §4.2.6
function parseToken(st: State): Token {
  const start = st.i++;
  while (isTokenChar(st.s.charCodeAt(st.i))) st.i++;
  return new Token(st.s.slice(start, st.i));
}

// §4.2.7
function parseByteSequence(st: State): Uint8Array {
  const end = st.s.indexOf(":", st.i + 1);
  if (end === -1) fail(st, "unterminated byte sequence");
  const bytes = decodeBase64(st.s.slice(st.i + 1, end));
  if (bytes === null) fail(st, "invalid base64 in byte sequence");
  st.i = end + 1;
  return bytes;
}

// §4.2.8
function parseBoolean(st: State): boolean {
  const c = st.s.charCodeAt(st.i + 1);
  if (c !== 0x30 && c !== 0x31) fail(st, "invalid boolean");
  st.i += 2;
  return c === 0x31;
}
