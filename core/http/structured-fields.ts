/**
 * RFC 8941 Structured Field Values: parsing (§4.2) and serialization (§4.1).
 *
 * Failure mode: every parse and serialize function THROWS a `StructuredFieldError` when the
 * input is invalid, and a parse failure fails the whole field (RFC 8941 §4.2: "fail parsing"
 * applies to the entire field value). Callers that must not throw wrap the call; see
 * `tryParseList` / `tryParseDictionary`, which return null instead.
 *
 * Representation: Integer and Decimal are both `number` (an Item parsed from a Decimal carries
 * `decimal: true` so `5.0` stays distinguishable from `5` and re-serializes as `5.0`); String is
 * `string`; Token is the `Token` class; Byte Sequence is `Uint8Array`; Boolean is `boolean`.
 * Parameters and Dictionaries are `Map`s, which keep insertion order and, on a duplicate key,
 * overwrite the value in the first key's position (RFC 8941 §4.2.2 step 2.4, §4.2.3.2 step 2.7).
 */
export class Token {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

export class StructuredFieldError extends SyntaxError {
  override name = "StructuredFieldError";
}

export type BareItem = number | string | Token | Uint8Array | boolean;
export type Params = Map<string, BareItem>;
export interface Item {
  value: BareItem;
  params: Params;
  /** set by the parser when the number was a Decimal; makes the serializer emit a Decimal */
  decimal?: boolean;
}
export interface InnerList {
  value: Item[];
  params: Params;
}
export type ListMember = Item | InnerList;
export type SfList = ListMember[];
export type Dictionary = Map<string, ListMember>;

export function isInnerList(m: ListMember): m is InnerList {
  return Array.isArray(m.value);
}

// ---------- parsing (RFC 8941 §4.2) ----------

interface State {
  s: string;
  i: number;
  /** set by parseNumber: whether the last number parsed was a Decimal */
  dec: boolean;
}

function fail(st: State, what: string): never {
  throw new StructuredFieldError(`${what} at offset ${st.i}`);
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isLcAlpha = (c: number) => c >= 0x61 && c <= 0x7a;
const isAlpha = (c: number) => isLcAlpha(c) || (c >= 0x41 && c <= 0x5a);

// tchar per RFC 9110 §5.6.2, plus ":" and "/" which RFC 8941 §3.3.4 allows in tokens.
const TOKEN_CHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~:/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CHAR[ch.charCodeAt(0)] = 1;
}
const isTokenChar = (c: number) => c < 128 && TOKEN_CHAR[c] === 1;
const isKeyChar = (c: number) =>
  isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a;

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

// ---------- serialization (RFC 8941 §4.1) ----------

/** §4.1.1. An empty list serializes to "" (the field should then not be sent at all). */
export function serializeList(list: SfList): string {
  return list.map(serializeMember).join(", ");
}

/** §4.1.2. A member whose value is Boolean true is written as the bare key plus parameters. */
export function serializeDictionary(dict: Dictionary | Iterable<[string, ListMember]>): string {
  const parts: string[] = [];
  for (const [key, member] of dict) {
    const k = serializeKey(key);
    if (!isInnerList(member) && member.value === true)
      parts.push(k + serializeParams(member.params));
    else parts.push(`${k}=${serializeMember(member)}`);
  }
  return parts.join(", ");
}

/** §4.1.3 */
export function serializeItem(item: Item): string {
  return serializeBare(item.value, item.decimal === true) + serializeParams(item.params);
}

function serializeMember(m: ListMember): string {
  if (!isInnerList(m)) return serializeItem(m);
  // §4.1.1.1
  return `(${m.value.map(serializeItem).join(" ")})${serializeParams(m.params)}`;
}

// §4.1.1.2
function serializeParams(params: Params): string {
  let out = "";
  for (const [key, value] of params) {
    out += `;${serializeKey(key)}`;
    if (value !== true) out += `=${serializeBare(value, false)}`;
  }
  return out;
}

// §4.1.1.3
function serializeKey(key: string): string {
  const c = key.charCodeAt(0);
  if (!isLcAlpha(c) && c !== 0x2a) throw new StructuredFieldError(`invalid key ${key}`);
  for (let k = 1; k < key.length; k++) {
    if (!isKeyChar(key.charCodeAt(k))) throw new StructuredFieldError(`invalid key ${key}`);
  }
  return key;
}

/** §4.1.3.1, for one bare item (a number is written as an Integer when it is integral). */
export function serializeBareItem(v: BareItem): string {
  return serializeBare(v, false);
}

function serializeBare(v: BareItem, decimal: boolean): string {
  if (typeof v === "number") return serializeNumber(v, decimal);
  if (typeof v === "string") return serializeString(v);
  if (typeof v === "boolean") return v ? "?1" : "?0";
  if (v instanceof Token) return serializeToken(v.value);
  if (v instanceof Uint8Array) return `:${encodeBase64(v)}:`;
  throw new StructuredFieldError("unsupported bare item");
}

function serializeNumber(v: number, decimal: boolean): string {
  if (!Number.isFinite(v)) throw new StructuredFieldError("number is not finite");
  if (Number.isInteger(v) && !decimal) {
    // §4.1.4: Integers are limited to 15 digits.
    if (Math.abs(v) > 999_999_999_999_999) throw new StructuredFieldError("integer out of range");
    return String(v);
  }
  // §4.1.5: round to 3 fractional digits, ties to even; at most 12 integer digits.
  const scaled = v * 1000;
  let r = Math.round(scaled);
  if (Math.abs(scaled - Math.trunc(scaled)) === 0.5) r = 2 * Math.round(scaled / 2);
  if (Math.abs(r) >= 1e15) throw new StructuredFieldError("decimal out of range");
  const abs = Math.abs(r);
  const frac = String(abs % 1000)
    .padStart(3, "0")
    .replace(/0{1,2}$/, "");
  return `${r < 0 ? "-" : ""}${Math.trunc(abs / 1000)}.${frac}`;
}

// §4.1.6: only printable ASCII; escape DQUOTE and backslash.
function serializeString(v: string): string {
  let out = '"';
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k);
    if (c < 0x20 || c > 0x7e)
      throw new StructuredFieldError("string has a non-printable character");
    if (c === 0x22 || c === 0x5c) out += "\\";
    out += v[k];
  }
  return `${out}"`;
}

/** true when `v` can be serialized as a Token (§4.1.7, grammar of §3.3.4). */
export function isValidToken(v: string): boolean {
  const c = v.charCodeAt(0);
  if (!isAlpha(c) && c !== 0x2a) return false;
  for (let k = 1; k < v.length; k++) if (!isTokenChar(v.charCodeAt(k))) return false;
  return true;
}

/** true when `v` can be serialized as a String (§4.1.6): printable ASCII only. */
export function isValidString(v: string): boolean {
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function serializeToken(v: string): string {
  if (!isValidToken(v)) throw new StructuredFieldError(`invalid token ${v}`);
  return v;
}

// ---------- base64 (RFC 4648 §4), as RFC 8941 §4.2.7 and §4.1.8 use it ----------

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Int8Array(128).fill(-1);
for (let k = 0; k < 64; k++) B64_VALUE[B64.charCodeAt(k)] = k;

function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  let k = 0;
  for (; k + 2 < bytes.length; k += 3) {
    const n = (bytes[k]! << 16) | (bytes[k + 1]! << 8) | bytes[k + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - k;
  if (rest === 1) {
    const n = bytes[k]! << 16;
    out += `${B64[n >> 18]}${B64[(n >> 12) & 63]}==`;
  } else if (rest === 2) {
    const n = (bytes[k]! << 16) | (bytes[k + 1]! << 8);
    out += `${B64[n >> 18]}${B64[(n >> 12) & 63]}${B64[(n >> 6) & 63]}=`;
  }
  return out;
}

/**
 * Decodes base64, or returns null. Per RFC 8941 §4.2.7 missing "=" padding and non-zero pad bits
 * are accepted ("parsers SHOULD NOT fail"); "=" anywhere but the end, or a wrong amount of it, is
 * rejected.
 */
function decodeBase64(s: string): Uint8Array | null {
  let len = s.length;
  while (len > 0 && s.charCodeAt(len - 1) === 0x3d) len--;
  const pad = s.length - len;
  if (pad > 2 || (pad > 0 && s.length % 4 !== 0) || len % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let k = 0; k < len; k++) {
    const c = s.charCodeAt(k);
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
