/**
 * Request headers as the shield handles them: Node's shape (`IncomingHttpHeaders`:
 * lowercase names; repeated fields joined, Set-Cookie an array). The Hono path converts a
 * web `Headers` into the same shape, so one engine serves both.
 */
import { type HeaderPairs, type HeaderReader, pairsReader } from "../../core/policy/index.ts";

export type NodeHeaders = Record<string, string | string[] | undefined>;

/** A case-insensitive reader over Node's header object (names are already lowercase). */
export function nodeHeaderReader(h: NodeHeaders): HeaderReader {
  return {
    get(name: string): string | null {
      const v = h[name] ?? h[name.toLowerCase()];
      if (v === undefined) return null;
      return typeof v === "string" ? v : v.join(", ");
    },
  };
}

/** A web `Headers` as Node's header object. */
export function fromWebHeaders(headers: Headers): NodeHeaders {
  const out: NodeHeaders = {};
  for (const [name, value] of headers) out[name] = value;
  return out;
}

/** Node's header object as pairs, arrays expanded (Set-Cookie stays one field per cookie). */
export function nodeHeaderPairs(h: NodeHeaders): HeaderPairs {
  const out: HeaderPairs = [];
  for (const name in h) {
    const v = h[name];
    if (v === undefined) continue;
    if (typeof v === "string") out.push([name, v]);
    else for (const one of v) out.push([name, one]);
  }
  return out;
}

/** Pairs as a HeaderReader that can also be iterated (core's HeaderSource). */
export function pairsSource(pairs: HeaderPairs): HeaderReader & Iterable<[string, string]> {
  return Object.assign(pairsReader(pairs), { [Symbol.iterator]: () => pairs[Symbol.iterator]() });
}
