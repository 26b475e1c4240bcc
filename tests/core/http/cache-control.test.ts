import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CacheControl,
  parseCacheControl,
  parseDeltaSeconds,
  parseTargetedCacheControl,
} from "../../../core/http/cache-control.ts";

const NONE: CacheControl = {
  noCache: false,
  noStore: false,
  private: false,
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  mustUnderstand: false,
  noTransform: false,
  immutable: false,
  onlyIfCached: false,
  invalid: false,
};
const cc = (o: Partial<CacheControl> = {}): CacheControl => ({ ...NONE, ...o });

describe("parseCacheControl (RFC 9111 §5.2)", () => {
  const cases: [string, string | null | undefined, CacheControl][] = [
    ["absent field gives no directives", undefined, cc()],
    ["null field gives no directives", null, cc()],
    ["empty field gives no directives", "", cc()],
    ["max-age (RFC 9111 §5.2.2.1)", "max-age=60", cc({ maxAge: 60 })],
    ["max-age with quoted argument is accepted (RFC 9111 §5.2)", 'max-age="5"', cc({ maxAge: 5 })],
    [
      "directive names are case-insensitive (RFC 9111 §5.2)",
      "Max-Age=7, NO-STORE",
      cc({ maxAge: 7, noStore: true }),
    ],
    [
      "whitespace around members and = is tolerated (RFC 9110 §5.6.1)",
      " \tpublic ,  max-age = 9 \t",
      cc({ public: true, maxAge: 9 }),
    ],
    ["empty list members are ignored (RFC 9110 §5.6.1)", ",, public,,", cc({ public: true })],
    ["leading zeros are delta-seconds (RFC 9111 §1.2.2)", "max-age=007", cc({ maxAge: 7 })],
    ["s-maxage (RFC 9111 §5.2.2.10)", "s-maxage=300, max-age=60", cc({ sMaxAge: 300, maxAge: 60 })],
    [
      "all response flags (RFC 9111 §5.2.2, RFC 8246)",
      "no-store, public, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable",
      cc({
        noStore: true,
        public: true,
        mustRevalidate: true,
        proxyRevalidate: true,
        mustUnderstand: true,
        noTransform: true,
        immutable: true,
      }),
    ],
    ["only-if-cached (RFC 9111 §5.2.1.7)", "only-if-cached", cc({ onlyIfCached: true })],
    ["unqualified no-cache (RFC 9111 §5.2.2.4)", "no-cache", cc({ noCache: true })],
    [
      "qualified no-cache lists lowercase field names; a comma inside quotes does not split directives (RFC 9111 §5.2.2.4)",
      'no-cache="Set-Cookie, X-Foo", max-age=5',
      cc({ noCache: true, noCacheFields: ["set-cookie", "x-foo"], maxAge: 5 }),
    ],
    [
      "qualified no-cache in token form (RFC 9111 §5.2.2.4)",
      "no-cache=set-cookie",
      cc({ noCache: true, noCacheFields: ["set-cookie"] }),
    ],
    [
      "qualified private (RFC 9111 §5.2.2.7)",
      'private="set-cookie"',
      cc({ private: true, privateFields: ["set-cookie"] }),
    ],
    ["unqualified private (RFC 9111 §5.2.2.7)", "private", cc({ private: true })],
    [
      "an unqualified no-cache overrides a qualified one (RFC 9111 §5.2.2.4)",
      'no-cache="a", no-cache',
      cc({ noCache: true }),
    ],
    [
      "a qualified no-cache after an unqualified one stays unqualified (RFC 9111 §5.2.2.4)",
      'no-cache, no-cache="a"',
      cc({ noCache: true }),
    ],
    [
      "two qualified private lists are merged (RFC 9111 §5.2.2.7)",
      'private="a", private="b, a"',
      cc({ private: true, privateFields: ["a", "b"] }),
    ],
    [
      "an empty qualified list reads as unqualified (conservative)",
      'no-cache=""',
      cc({ noCache: true }),
    ],
    [
      "stale-while-revalidate and stale-if-error (RFC 5861 §3, §4)",
      "stale-while-revalidate=30, stale-if-error=600",
      cc({ staleWhileRevalidate: 30, staleIfError: 600 }),
    ],
    [
      "max-stale without a value accepts any staleness (RFC 9111 §5.2.1.2)",
      "max-stale",
      cc({ maxStale: Number.POSITIVE_INFINITY }),
    ],
    ["max-stale with a value (RFC 9111 §5.2.1.2)", "max-stale=10", cc({ maxStale: 10 })],
    ["min-fresh (RFC 9111 §5.2.1.3)", "min-fresh=20", cc({ minFresh: 20 })],
    [
      "unknown directives are ignored (RFC 9111 §5.2.3)",
      'foo, bar="x, max-age=1", community="UCI"',
      cc(),
    ],
    [
      "an unknown directive with a quoted comma does not leak (RFC 9111 §5.2)",
      'ext="a,no-store", public',
      cc({ public: true }),
    ],
    [
      "quoted-pair is unescaped (RFC 9110 §5.6.4)",
      'private="a\\"b, c"',
      cc({ private: true, privateFields: ["c"] }),
    ],
    [
      "delta-seconds over 2^31 become 2^31 (RFC 9111 §1.2.2)",
      "max-age=99999999999999999999",
      cc({ maxAge: 2147483648 }),
    ],
    ["exactly 2^31 is kept (RFC 9111 §1.2.2)", "s-maxage=2147483648", cc({ sMaxAge: 2147483648 })],
    ["a flag given an argument still counts", "no-store=1", cc({ noStore: true })],
    // Conservative handling of invalid freshness information (RFC 9111 §4.2.1).
    [
      "non-integer max-age is 0 and flagged (RFC 9111 §4.2.1)",
      "max-age=1.5",
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "negative max-age is 0 and flagged (RFC 9111 §4.2.1)",
      "max-age=-1",
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "max-age without a value is 0 and flagged (RFC 9111 §4.2.1)",
      "max-age",
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "empty max-age is 0 and flagged (RFC 9111 §4.2.1)",
      "max-age=",
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "empty quoted max-age is 0 and flagged (RFC 9111 §4.2.1)",
      'max-age=""',
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "max-age with junk after the quotes is 0 and flagged (RFC 9111 §4.2.1)",
      'max-age="5"x',
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "unterminated quoted max-age is 0 and flagged (RFC 9111 §4.2.1)",
      'max-age="5',
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "invalid s-maxage is 0 and flagged (RFC 9111 §4.2.1)",
      "s-maxage=abc",
      cc({ sMaxAge: 0, invalid: true }),
    ],
    [
      "duplicate max-age keeps the smallest and is flagged (RFC 9111 §4.2.1)",
      "max-age=60, max-age=10",
      cc({ maxAge: 10, invalid: true }),
    ],
    [
      "duplicate max-age with equal values is not flagged",
      "max-age=60, max-age=60",
      cc({ maxAge: 60 }),
    ],
    [
      "a valid max-age plus an invalid one is 0 (RFC 9111 §4.2.1)",
      "max-age=60, max-age=x",
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "duplicate s-maxage keeps the smallest (RFC 9111 §4.2.1)",
      "s-maxage=5, s-maxage=50",
      cc({ sMaxAge: 5, invalid: true }),
    ],
    [
      "duplicate stale-while-revalidate keeps the smallest (RFC 5861)",
      "stale-while-revalidate=30, stale-while-revalidate=5",
      cc({ staleWhileRevalidate: 5, invalid: true }),
    ],
    [
      "duplicate stale-if-error keeps the smallest (RFC 5861)",
      "stale-if-error=30, stale-if-error=50",
      cc({ staleIfError: 30, invalid: true }),
    ],
    [
      "duplicate max-stale keeps the smallest, bare one included (RFC 9111 §5.2.1.2)",
      "max-stale, max-stale=5",
      cc({ maxStale: 5, invalid: true }),
    ],
    [
      "duplicate min-fresh keeps the largest (RFC 9111 §5.2.1.3)",
      "min-fresh=5, min-fresh=50",
      cc({ minFresh: 50, invalid: true }),
    ],
    [
      "invalid stale-while-revalidate is ignored (RFC 5861)",
      "stale-while-revalidate=soon",
      cc({ invalid: true }),
    ],
    [
      "stale-while-revalidate without a value is ignored (RFC 5861)",
      "stale-while-revalidate",
      cc({ invalid: true }),
    ],
    [
      "an invalid stale-if-error removes a valid one too",
      "stale-if-error=60, stale-if-error=-1",
      cc({ invalid: true }),
    ],
    [
      "a valid stale-if-error after an invalid one is still ignored",
      "stale-if-error=-1, stale-if-error=60",
      cc({ invalid: true }),
    ],
    ["invalid max-stale is ignored (RFC 9111 §5.2.1.2)", "max-stale=1e3", cc({ invalid: true })],
    ["invalid min-fresh is ignored (RFC 9111 §5.2.1.3)", "min-fresh=-5", cc({ invalid: true })],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseCacheControl(input)).toEqual(expected);
  });
});

describe("parseTargetedCacheControl (RFC 9213)", () => {
  const cases: [string, string | null | undefined, CacheControl | null][] = [
    ["absent field is ignored (RFC 9213 §2.1)", undefined, null],
    ["empty field is ignored (RFC 9213 §2.1)", "", null],
    ["whitespace-only field is ignored (RFC 9213 §2.1)", "   ", null],
    [
      "uppercase keys fail Dictionary parsing so the field is ignored (RFC 9213 §2.1)",
      "Max-Age=60",
      null,
    ],
    ["trailing comma fails parsing so the field is ignored (RFC 9213 §2.1)", "max-age=60,", null],
    [
      "a quoted integer is not Cache-Control syntax here: the field fails and is ignored",
      'max-age="60"x',
      null,
    ],
    ["max-age as an Integer (RFC 9213 §2.1)", "max-age=60", cc({ maxAge: 60 })],
    [
      "flags are Boolean true (RFC 9213 §2.1)",
      "no-store, must-revalidate",
      cc({ noStore: true, mustRevalidate: true }),
    ],
    ["an explicit ?1 flag is set (RFC 8941 §3.3.6)", "public=?1", cc({ public: true })],
    ["an explicit ?0 flag is off (RFC 8941 §3.3.6)", "public=?0, max-age=5", cc({ maxAge: 5 })],
    [
      "parameters are ignored (RFC 9213 §2.1)",
      "max-age=60;foo=bar, public;x",
      cc({ maxAge: 60, public: true }),
    ],
    [
      "stale directives (RFC 9213 §2.1, RFC 5861)",
      "stale-while-revalidate=30, stale-if-error=60",
      cc({ staleWhileRevalidate: 30, staleIfError: 60 }),
    ],
    [
      "private with a String field list (RFC 9213 §2.1)",
      'private="Set-Cookie, x-a"',
      cc({ private: true, privateFields: ["set-cookie", "x-a"] }),
    ],
    [
      "no-cache with an Inner List of tokens and strings (RFC 9213 §2.1)",
      'no-cache=(set-cookie "X-B")',
      cc({ noCache: true, noCacheFields: ["set-cookie", "x-b"] }),
    ],
    [
      "a Decimal max-age is invalid and becomes 0 (RFC 9213 §2.1, RFC 9111 §4.2.1)",
      "max-age=5.0",
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "a String max-age is invalid and becomes 0 (RFC 9213 §2.1)",
      'max-age="60"',
      cc({ maxAge: 0, invalid: true }),
    ],
    [
      "a negative max-age is invalid and becomes 0 (RFC 9111 §4.2.1)",
      "max-age=-1",
      cc({ maxAge: 0, invalid: true }),
    ],
    ["a Boolean max-age is invalid and becomes 0", "max-age", cc({ maxAge: 0, invalid: true })],
    [
      "an Inner List s-maxage is invalid and becomes 0",
      "s-maxage=(1 2)",
      cc({ sMaxAge: 0, invalid: true }),
    ],
    [
      "a Decimal stale-while-revalidate is ignored (RFC 5861)",
      "stale-while-revalidate=1.5",
      cc({ invalid: true }),
    ],
    [
      "a duplicate key keeps the last value (RFC 8941 §4.2.2)",
      "max-age=10, max-age=60",
      cc({ maxAge: 60 }),
    ],
    [
      "large integers clamp to 2^31 (RFC 9111 §1.2.2)",
      "max-age=999999999999999",
      cc({ maxAge: 2147483648 }),
    ],
    [
      "unknown directives are ignored (RFC 9213 §2.1)",
      'foo=1, bar="x", baz=(a b), max-age=3',
      cc({ maxAge: 3 }),
    ],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseTargetedCacheControl(input)).toEqual(expected);
  });
});

describe("parseDeltaSeconds (RFC 9111 §1.2.2)", () => {
  const cases: [string, string, number][] = [
    ["digits", "120", 120],
    ["zero", "0", 0],
    ["empty is invalid", "", -1],
    ["sign is invalid", "+5", -1],
    ["space is invalid", "5 ", -1],
    ["2^31 + 1 clamps to 2^31", "2147483649", 2147483648],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseDeltaSeconds(input)).toBe(expected);
  });
});

describe("cache-control properties", () => {
  const alphabet = fc.constantFrom(
    ...'max-age=,s-maxage no-cache private"\\ \t0123456789stale-while-revalidate;Xé'.split(""),
  );
  const anyHeader = fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 60 }));

  it("never throws and always yields sane numbers on arbitrary input", () => {
    fc.assert(
      fc.property(anyHeader, (s) => {
        for (const r of [parseCacheControl(s), parseTargetedCacheControl(s)]) {
          if (r === null) continue;
          for (const k of [
            "maxAge",
            "sMaxAge",
            "staleWhileRevalidate",
            "staleIfError",
            "minFresh",
          ] as const) {
            const v = r[k];
            if (v !== undefined) {
              expect(Number.isInteger(v) && v >= 0 && v <= 2147483648).toBe(true);
            }
          }
          if (r.maxStale !== undefined) expect(r.maxStale >= 0).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("max-age=N reads back N for any delta-seconds, clamped at 2^31 (RFC 9111 §1.2.2)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (n) => {
        const expected = n > 2147483648n ? 2147483648 : Number(n);
        expect(parseCacheControl(`max-age=${n}`).maxAge).toBe(expected);
        expect(parseCacheControl(`public, MAX-AGE="${n}"`).maxAge).toBe(expected);
      }),
    );
  });

  it("the result never depends on whitespace around members (RFC 9110 §5.6.1)", () => {
    const directive = fc.constantFrom(
      "public",
      "max-age=5",
      "no-cache",
      'private="a, b"',
      "s-maxage=9",
    );
    fc.assert(
      fc.property(
        fc.array(directive, { maxLength: 5 }),
        fc.constantFrom(" ", "\t", "  "),
        (ds, ws) => {
          expect(parseCacheControl(ds.map((d) => `${ws}${d}${ws}`).join(","))).toEqual(
            parseCacheControl(ds.join(",")),
          );
        },
      ),
    );
  });

  it("long inputs are parsed in linear time", () => {
    const start = performance.now();
    expect(parseCacheControl("max-age=1, ".repeat(100_000)).maxAge).toBe(1);
    expect(parseCacheControl(`private="${"a,".repeat(100_000)}`).private).toBe(true);
    expect(parseCacheControl(`max-age=${"9".repeat(500_000)}`).maxAge).toBe(2147483648);
    expect(parseCacheControl("\\".repeat(200_000)).invalid).toBe(false);
    expect(parseTargetedCacheControl("a, ".repeat(100_000).slice(0, -2))).toEqual(cc());
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
