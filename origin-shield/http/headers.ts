/**
 * Request headers as the shield handles them: Node's shape (`IncomingHttpHeaders`:
 * lowercase names; repeated fields joined, Set-Cookie an array). The Hono path converts a
 * web `Headers` into the same shape, so one engine serves both.
 *
 * Names come from clients and origins, so no lookup may reach an object's prototype:
 * `h["constructor"]` on a plain object is a function, and a response varying on
 * `constructor` once took the process down. Reads check own properties, and objects
 * built here have no prototype.
 */
import { type HeaderPairs, type HeaderReader, pairsReader } from "../../core/policy/index.ts";

export type NodeHeaders = Record<string, string | string[] | undefined>;

function own(h: NodeHeaders, name: string): string | string[] | undefined {
  return Object.hasOwn(h, name) ? h[name] : undefined;
}

/** A case-insensitive reader over Node's header object (names are already lowercase). */
export function nodeHeaderReader(headers: NodeHeaders): HeaderReader {
  return {
    get(name: string): string | null {
      let value = own(headers, name);
      if (value === undefined) {
        const lower = name.toLowerCase();
        if (lower === name) return null;
        value = own(headers, lower);
        if (value === undefined) return null;
      }
      return typeof value === "string" ? value : value.join(", ");
    },
  };
}

/** A web `Headers` as Node's header object. */
export function fromWebHeaders(headers: Headers): NodeHeaders {
  const out: NodeHeaders = Object.create(null);
  for (const [name, value] of headers) out[name] = value;
  return out;
}

/** Node's header object as pairs, arrays expanded (Set-Cookie stays one field per cookie). */
export function nodeHeaderPairs(headers: NodeHeaders): HeaderPairs {
  const out: HeaderPairs = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === "string") out.push([name, value]);
    else for (const one of value) out.push([name, one]);
  }
  return out;
}

/** Pairs as a HeaderReader that can also be iterated (core's HeaderSource). */
export function pairsSource(pairs: HeaderPairs): HeaderReader & Iterable<[string, string]> {
  return Object.assign(pairsReader(pairs), { [Symbol.iterator]: () => pairs[Symbol.iterator]() });
}

/**
 * Whether a field can be written by Node's HTTP server: a token name (RFC 9110 §5.1) and
 * a value of visible characters, spaces, tabs and obs-text (§5.5), as `writeHead` checks.
 * A response is checked when it arrives, so nothing stored can fail to be written later.
 */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export function writableField(name: string, value: string): boolean {
  return TOKEN.test(name) && !BAD_VALUE.test(value);
}
