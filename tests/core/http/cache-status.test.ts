import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  appendCacheStatus,
  type CacheStatusFwd,
  type CacheStatusMember,
  formatCacheStatusMember,
  parseCacheStatus,
} from "../../../core/http/cache-status.ts";

describe("formatCacheStatusMember (RFC 9211 §2)", () => {
  const cases: [string, CacheStatusMember, string][] = [
    [
      "a hit with its remaining freshness (RFC 9211 §2.1, §2.4)",
      { cache: "shield", hit: true, ttl: 300 },
      "shield; hit; ttl=300",
    ],
    [
      "a stale hit has a negative ttl (RFC 9211 §3)",
      { cache: "ExampleCache", hit: true, ttl: -412 },
      "ExampleCache; hit; ttl=-412",
    ],
    [
      "a miss that was stored (RFC 9211 §2.2, §2.5)",
      { cache: "edge", fwd: "uri-miss", stored: true },
      "edge; fwd=uri-miss; stored",
    ],
    [
      "a revalidation with the next hop's status (RFC 9211 §2.3)",
      { cache: "shield", fwd: "stale", fwdStatus: 304 },
      "shield; fwd=stale; fwd-status=304",
    ],
    [
      "a failed collapse is written as ?0 (RFC 9211 §2.6, §3)",
      { cache: "shield", fwd: "uri-miss", collapsed: false },
      "shield; fwd=uri-miss; collapsed=?0",
    ],
    ["a false hit is written explicitly", { cache: "edge", hit: false }, "edge; hit=?0"],
    [
      "a cache name that is not a token is a String (RFC 9211 §2)",
      { cache: "CDN Company Here", hit: true },
      '"CDN Company Here"; hit',
    ],
    [
      "a cache name starting with a digit is a String (RFC 8941 §3.3.4)",
      { cache: "1cache" },
      '"1cache"',
    ],
    ["an empty cache name becomes a token placeholder", { cache: "" }, "unknown"],
    [
      "detail as a Token when valid (RFC 9211 §2.8)",
      { cache: "edge", fwd: "bypass", detail: "no-store" },
      "edge; fwd=bypass; detail=no-store",
    ],
    [
      "detail as a String otherwise (RFC 9211 §2.8)",
      { cache: "edge", detail: "origin timeout" },
      'edge; detail="origin timeout"',
    ],
    ["key is always a String (RFC 9211 §2.7)", { cache: "edge", key: "abc" }, 'edge; key="abc"'],
    [
      "key escapes DQUOTE and backslash (RFC 8941 §4.1.6)",
      { cache: "edge", key: 'a"b\\c' },
      'edge; key="a\\"b\\\\c"',
    ],
    [
      "a key with a semicolon stays one parameter",
      { cache: "edge", key: "/a;b=c" },
      'edge; key="/a;b=c"',
    ],
    [
      "non-ASCII in a key is percent-encoded as UTF-8",
      { cache: "edge", key: "/café" },
      'edge; key="/caf%C3%A9"',
    ],
    [
      "control characters in a key are percent-encoded",
      { cache: "edge", key: "a\nb" },
      'edge; key="a%0Ab"',
    ],
    [
      "a lone surrogate is written as U+FFFD",
      { cache: "edge", detail: "x\ud800" },
      'edge; detail="x%EF%BF%BD"',
    ],
    [
      "a fractional ttl is floored to whole seconds",
      { cache: "edge", hit: true, ttl: 299.7 },
      "edge; hit; ttl=299",
    ],
    ["a non-finite ttl is omitted", { cache: "edge", hit: true, ttl: Number.NaN }, "edge; hit"],
    [
      "an unregistered fwd value is omitted (RFC 9211 §2.2)",
      { cache: "edge", fwd: "nope" as CacheStatusFwd },
      "edge",
    ],
    [
      "hit and fwd are exclusive: a hit drops fwd (RFC 9211 §2)",
      { cache: "shield", hit: true, fwd: "stale", ttl: -5 },
      "shield; hit; ttl=-5",
    ],
    [
      "all parameters, in RFC 9211 §2 order",
      {
        cache: "shield",
        detail: "d",
        key: "k",
        collapsed: true,
        stored: true,
        ttl: 5,
        fwdStatus: 200,
        fwd: "miss",
        hit: false,
      },
      'shield; hit=?0; fwd=miss; fwd-status=200; ttl=5; stored; collapsed; key="k"; detail=d',
    ],
  ];
  it.each(cases)("%s", (_name, m, expected) => {
    expect(formatCacheStatusMember(m)).toBe(expected);
  });
});

describe("appendCacheStatus (RFC 9211 §2: the cache nearest the user goes last)", () => {
  const edge: CacheStatusMember = { cache: "edge", fwd: "uri-miss" };
  const cases: [string, string | null | undefined, string][] = [
    ["no existing field", undefined, "edge; fwd=uri-miss"],
    ["null existing field", null, "edge; fwd=uri-miss"],
    ["empty existing field", "", "edge; fwd=uri-miss"],
    ["whitespace-only existing field", "  ", "edge; fwd=uri-miss"],
    [
      "after the origin-side member",
      "shield; hit; ttl=300",
      "shield; hit; ttl=300, edge; fwd=uri-miss",
    ],
    ["trailing commas and OWS are trimmed", "shield; hit,  \t", "shield; hit, edge; fwd=uri-miss"],
    [
      "an unparsable upstream value is kept verbatim",
      "weird stuff!!",
      "weird stuff!!, edge; fwd=uri-miss",
    ],
  ];
  it.each(cases)("%s", (_name, existing, expected) => {
    expect(appendCacheStatus(existing, edge)).toBe(expected);
  });
});

describe("parseCacheStatus (RFC 9211 §2, §3 examples)", () => {
  const cases: [string, string | null | undefined, CacheStatusMember[]][] = [
    ["a minimal hit (RFC 9211 §3)", "ExampleCache; hit", [{ cache: "ExampleCache", hit: true }]],
    [
      "a hit with ttl (RFC 9211 §3)",
      "ExampleCache; hit; ttl=376",
      [{ cache: "ExampleCache", hit: true, ttl: 376 }],
    ],
    [
      "a stale hit (RFC 9211 §3)",
      "ExampleCache; hit; ttl=-412",
      [{ cache: "ExampleCache", hit: true, ttl: -412 }],
    ],
    [
      "a complete miss (RFC 9211 §3)",
      "ExampleCache; fwd=uri-miss",
      [{ cache: "ExampleCache", fwd: "uri-miss" }],
    ],
    [
      "a miss validated on the backend (RFC 9211 §3)",
      "ExampleCache; fwd=stale; fwd-status=304",
      [{ cache: "ExampleCache", fwd: "stale", fwdStatus: 304 }],
    ],
    [
      "a collapsed miss (RFC 9211 §3)",
      "ExampleCache; fwd=uri-miss; collapsed",
      [{ cache: "ExampleCache", fwd: "uri-miss", collapsed: true }],
    ],
    [
      "a miss that could not be collapsed (RFC 9211 §3)",
      "ExampleCache; fwd=uri-miss; collapsed=?0",
      [{ cache: "ExampleCache", fwd: "uri-miss", collapsed: false }],
    ],
    [
      "two layers, one named by a String (RFC 9211 §3)",
      'OriginCache; hit; ttl=1100, "CDN Company Here"; hit; ttl=545',
      [
        { cache: "OriginCache", hit: true, ttl: 1100 },
        { cache: "CDN Company Here", hit: true, ttl: 545 },
      ],
    ],
    [
      "three layers from three field lines combined (RFC 9211 §3, RFC 9110 §5.3)",
      "ReverseProxyCache; hit, ForwardProxyCache; fwd=uri-miss; collapsed; stored, BrowserCache; fwd=uri-miss",
      [
        { cache: "ReverseProxyCache", hit: true },
        { cache: "ForwardProxyCache", fwd: "uri-miss", collapsed: true, stored: true },
        { cache: "BrowserCache", fwd: "uri-miss" },
      ],
    ],
    [
      "key and a String detail (RFC 9211 §2.7, §2.8)",
      'edge; key="https://a/b?c"; detail="x y"',
      [{ cache: "edge", key: "https://a/b?c", detail: "x y" }],
    ],
    [
      "a Token detail (RFC 9211 §2.8)",
      "edge; detail=origin-timeout",
      [{ cache: "edge", detail: "origin-timeout" }],
    ],
    [
      "unknown parameters are ignored (RFC 9211 §2)",
      "edge; foo=bar; hit; x",
      [{ cache: "edge", hit: true }],
    ],
    [
      "parameters of the wrong type are ignored",
      'edge; hit=1; ttl="5"; fwd="miss"; fwd-status=?1; key=tok; stored=0; ttl=1.5',
      [{ cache: "edge" }],
    ],
    [
      "an unregistered fwd value is ignored (RFC 9211 §2.2)",
      "edge; fwd=weird",
      [{ cache: "edge" }],
    ],
    [
      "members that are not a String or Token are skipped (RFC 9211 §2)",
      "(a b), 5, ?1, :aGk=:, edge; hit",
      [{ cache: "edge", hit: true }],
    ],
    ["a value that is not an SF List gives [] (RFC 8941 §4.2)", "edge; hit,", []],
    ["an uppercase parameter name fails the whole field (RFC 8941 §4.2.3.3)", "edge; Hit", []],
    ["absent", undefined, []],
    ["empty", "", []],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseCacheStatus(input)).toEqual(expected);
  });
});

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const FWD: CacheStatusFwd[] = [
  "bypass",
  "method",
  "uri-miss",
  "vary-miss",
  "miss",
  "request",
  "stale",
  "partial",
];
const memberArb = (text: fc.Arbitrary<string>) =>
  fc.record(
    {
      cache: text.filter((s) => s !== ""),
      hit: fc.boolean(),
      fwd: fc.constantFrom(...FWD),
      fwdStatus: fc.integer({ min: 100, max: 599 }),
      ttl: fc.integer({ min: -1e12, max: 1e12 }),
      stored: fc.boolean(),
      collapsed: fc.boolean(),
      key: text,
      detail: text,
    },
    { requiredKeys: ["cache"] },
  );

// What a member reads back as: a hit is never also forwarded (RFC 9211 §2).
const withoutFwdOnHit = (m: CacheStatusMember): CacheStatusMember =>
  m.hit === true ? { ...m, fwd: undefined } : m;

describe("Cache-Status properties", () => {
  it("format → parse is the identity for printable values (RFC 9211 §2)", () => {
    fc.assert(
      fc.property(memberArb(fc.string({ unit: printable, maxLength: 20 })), (m) => {
        expect(parseCacheStatus(formatCacheStatusMember(m))).toEqual([withoutFwdOnHit(m)]);
      }),
      { numRuns: 1000 },
    );
  });
  it("appending members one by one keeps them all, origin side first (RFC 9211 §2)", () => {
    fc.assert(
      fc.property(
        fc.array(memberArb(fc.string({ unit: printable, maxLength: 8 })), { maxLength: 5 }),
        (ms) => {
          let header: string | null = null;
          for (const m of ms) header = appendCacheStatus(header, m);
          expect(parseCacheStatus(header)).toEqual(ms.map(withoutFwdOnHit));
        },
      ),
    );
  });
  it("formatting never throws and always yields one parsable member, whatever the strings", () => {
    fc.assert(
      fc.property(memberArb(fc.string({ unit: "binary", maxLength: 20 })), (m) => {
        const parsed = parseCacheStatus(formatCacheStatusMember(m));
        expect(parsed).toHaveLength(1);
        expect(parsed[0]?.ttl).toBe(m.ttl);
      }),
      { numRuns: 1000 },
    );
  });
  it("parsing arbitrary strings never throws", () => {
    const alphabet = fc.constantFrom(...'edge; hit=?1,ttl=-5 fwd"\\()é'.split(""));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 40 })), (s) => {
        expect(Array.isArray(parseCacheStatus(s))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it("long input is handled in linear time", () => {
    const start = performance.now();
    expect(parseCacheStatus("edge; hit, ".repeat(100_000).slice(0, -2))).toHaveLength(100_000);
    expect(parseCacheStatus(`edge; key="${"a".repeat(1_000_000)}`)).toEqual([]);
    expect(formatCacheStatusMember({ cache: "edge", key: "é".repeat(100_000) })).toHaveLength(
      'edge; key=""'.length + 600_000,
    );
    expect(performance.now() - start).toBeLessThan(3000);
  });
});
