import { describe, expect, it } from "vitest";
import { ConfigError } from "../../core/config/index.ts";
import { formatHttpDate } from "../../core/http/dates.ts";
import type { EntryMeta } from "../../core/policy/index.ts";
import {
  decodeMeta,
  decodeStored,
  encodeMeta,
  encodeVaryRecord,
  MAX_META_BYTES,
} from "../../workers/cache/meta-codec.ts";
import { MAX_VARIANTS } from "../../workers/cache/vary-record.ts";
import { parseShieldNodesVar } from "../../workers/config/shield-nodes.ts";
import { acceptsOnly, clientCoding } from "../../workers/request/accept-encoding.ts";

describe("the client's coding: the runtime's original Accept-Encoding before the header", () => {
  it.each([
    ["the runtime says the client sent gzip only", { clientAcceptEncoding: "gzip" }, "gzip"],
    ["the runtime says the client sent nothing", { clientAcceptEncoding: "" }, "identity"],
    ["no word from the runtime: the header", undefined, "br"],
  ])("%s", (_what, cf, expected) => {
    const request = new Request("https://edge.test/", {
      headers: { "accept-encoding": "br, gzip" },
      ...(cf === undefined ? {} : { cf }),
    });
    expect(clientCoding(request)).toBe(expected);
  });
});

describe("acceptsOnly: a coded part reaches the client untouched only if no other coding can", () => {
  it.each([
    ["br", "br", true],
    ["gzip", "gzip", true],
    ["x-gzip", "gzip", true],
    ["gzip, deflate, br, zstd", "br", false],
    ["br, gzip;q=0", "br", true],
    ["br, *;q=0.1", "br", false],
    ["br;q=0.5, gzip;q=0", "br", true],
    ["identity", "br", false],
    ["", "gzip", false],
    [null, "br", false],
  ] as const)("%s, %s → %s", (value, coding, expected) => {
    expect(acceptsOnly(value, coding)).toBe(expected);
  });
});

function meta(headers: [string, string][]): EntryMeta {
  return {
    status: 200,
    headers: [["date", formatHttpDate(0)], ...headers],
    requestTime: 0,
    responseTime: 0,
    initialAge: 0,
    freshnessLifetime: 60,
    lifetimeSource: "max-age",
    freshUntil: 60_000,
    staleWhileRevalidateUntil: 60_000,
    staleIfErrorUntil: 60_000,
    deleteAt: 60_000,
    staleForbidden: false,
    vary: null,
    shareableWithAuthorization: false,
    tags: ["a"],
  };
}

describe("the metadata header", () => {
  it("round-trips keys and header values with non-ASCII text as a valid header value", () => {
    const m = meta([["x-title", "Café \u00ff"]]);
    const key = '[null,"https","shop.example","/caf%C3%A9","",[],[],null]';
    const encoded = encodeMeta(`${key}é`, m)!;
    expect(() => new Headers({ "x-edge-meta": encoded })).not.toThrow();
    expect(/^[\x20-\x7e]*$/.test(encoded)).toBe(true);
    expect(decodeMeta(encoded)).toEqual({ key: `${key}é`, meta: m });
  });

  it("refuses metadata too large for a header", () => {
    expect(encodeMeta("k", meta([["x-big", "x".repeat(MAX_META_BYTES)]]))).toBeNull();
  });

  it.each([
    ["not JSON", "{"],
    ["another version", JSON.stringify({ v: 2, key: "k", meta: meta([]) })],
    ["no key", JSON.stringify({ v: 1, meta: meta([]) })],
    ["lifetimes missing", JSON.stringify({ v: 1, key: "k", meta: { status: 200, headers: [] } })],
  ])("reads %s as a miss", (_what, value) => {
    expect(decodeMeta(value)).toBeNull();
  });
});

describe("a key's vary record in the metadata header", () => {
  const record = {
    fields: ["accept-encoding", "x-tenant"],
    variants: [{ id: "a", slot: 0 }],
    deleteAt: 5,
  };

  it("round-trips, and is never read as a response's metadata", () => {
    const encoded = encodeVaryRecord("k", record)!;
    expect(decodeStored(encoded)).toEqual({ kind: "vary", key: "k", record });
    expect(decodeMeta(encoded)).toBeNull();
  });

  it.each([
    ["a slot past the last", { ...record, variants: [{ id: "a", slot: MAX_VARIANTS }] }],
    ["a fractional slot", { ...record, variants: [{ id: "a", slot: 0.5 }] }],
    [
      "more variants than the bound",
      {
        ...record,
        variants: Array.from({ length: MAX_VARIANTS + 1 }, (_, i) => ({ id: `${i}`, slot: 0 })),
      },
    ],
    ["fields that are not names", { ...record, fields: [1] }],
    ["no lifetime", { fields: [], variants: [] }],
  ])("reads a record with %s as nothing stored", (_what, bad) => {
    expect(decodeStored(JSON.stringify({ v: 1, key: "k", record: bad }))).toBeNull();
  });
});

describe("the SHIELD_NODES var", () => {
  it("is absent when unset or blank", () => {
    expect(parseShieldNodesVar(undefined)).toBeUndefined();
    expect(parseShieldNodesVar("  ")).toBeUndefined();
  });

  it("lists canonical node URLs", () => {
    expect(parseShieldNodesVar(" http://10.0.0.1:8080/ ,HTTP://B:81,")).toEqual([
      "http://10.0.0.1:8080",
      "http://b:81",
    ]);
  });

  it("names each bad entry by position", () => {
    const result = parseShieldNodesVar("http://a:1,nonsense,http://a:1/");
    expect(result).toBeInstanceOf(ConfigError);
    const issues = (result as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(issues).toEqual([
      "[1]: must be an absolute http:// or https:// URL",
      '[2]: duplicate shield node "http://a:1/"',
    ]);
  });
});
