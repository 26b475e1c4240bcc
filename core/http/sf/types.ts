/** RFC 8941 Structured Field Values: the data model (§3) and the character classes. */

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

export function isInnerList(member: ListMember): member is InnerList {
  return Array.isArray(member.value);
}

export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
export const isLcAlpha = (c: number): boolean => c >= 0x61 && c <= 0x7a;
export const isAlpha = (c: number): boolean => isLcAlpha(c) || (c >= 0x41 && c <= 0x5a);

// tchar per RFC 9110 §5.6.2, plus ":" and "/" which RFC 8941 §3.3.4 allows in tokens.
const TOKEN_CHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~:/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CHAR[ch.charCodeAt(0)] = 1;
}
export const isTokenChar = (c: number): boolean => c < 128 && TOKEN_CHAR[c] === 1;
export const isKeyChar = (c: number): boolean =>
  isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a;
