import { describe, expect, it } from "vitest";
import { ConfigError } from "../../core/config/index.ts";
import { formatHttpDate } from "../../core/http/dates.ts";
import type { EntryMeta } from "../../core/policy/index.ts";
import { decodeMeta, encodeMeta, MAX_META_BYTES } from "../../workers/cache/meta-codec.ts";
import { parseShieldNodesVar } from "../../workers/config/shield-nodes.ts";
import { normaliseAcceptEncoding } from "../../workers/request/accept-encoding.ts";

describe("normaliseAcceptEncoding: one spelling per set of codings a shield serves", () => {
  it.each([
    ["gzip, deflate, br, zstd", "br, gzip"],
    ["br;q=1.0, gzip;q=0.8, *;q=0.1", "br, gzip"],
    ["GZIP", "gzip"],
    ["x-gzip", "gzip"],
    ["br", "br"],
    ["gzip;q=0, br", "br"],
    ["*", "br, gzip"],
    ["*, br;q=0", "gzip"],
    ["identity", null],
    ["deflate", null],
    ["", null],
    [null, null],
  ])("%s → %s", (value, expected) => {
    expect(normaliseAcceptEncoding(value)).toBe(expected);
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
