/** RFC 8941 §4.1: serializing Structured Field Values. Invalid input throws StructuredFieldError. */
import { encodeBase64 } from "./base64.ts";
import {
  type BareItem,
  type Dictionary,
  type Item,
  isAlpha,
  isInnerList,
  isKeyChar,
  isLcAlpha,
  isTokenChar,
  type ListMember,
  type Params,
  type SfList,
  StructuredFieldError,
  Token,
} from "./types.ts";

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
export function serializeBareItem(value: BareItem): string {
  return serializeBare(value, false);
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

/** true when `value` can be serialized as a Token (§4.1.7, grammar of §3.3.4). */
export function isValidToken(value: string): boolean {
  const c = value.charCodeAt(0);
  if (!isAlpha(c) && c !== 0x2a) return false;
  for (let k = 1; k < value.length; k++) if (!isTokenChar(value.charCodeAt(k))) return false;
  return true;
}

/** true when `value` can be serialized as a String (§4.1.6): printable ASCII only. */
export function isValidString(value: string): boolean {
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function serializeToken(v: string): string {
  if (!isValidToken(v)) throw new StructuredFieldError(`invalid token ${v}`);
  return v;
}
