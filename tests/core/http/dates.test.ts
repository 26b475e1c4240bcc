import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatHttpDate, parseHttpDate } from "../../../core/http/dates.ts";

const RFC_EXAMPLE = 784111777000; // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 §5.6.7)
const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // unlike Date.UTC, keeps years 0-99 as written
  date.setUTCHours(h, mi, s, 0);
  return date.getTime();
};

describe("parseHttpDate (RFC 9110 §5.6.7)", () => {
  const cases: [string, string | null | undefined, number | null][] = [
    ["IMF-fixdate (RFC 9110 §5.6.7)", "Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE],
    ["obsolete RFC 850 format (RFC 9110 §5.6.7)", "Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE],
    ["ANSI C asctime format (RFC 9110 §5.6.7)", "Sun Nov  6 08:49:37 1994", RFC_EXAMPLE],
    [
      "asctime with a two-digit day (RFC 9110 §5.6.7)",
      "Wed Nov 16 08:49:37 1994",
      utc(1994, 11, 16, 8, 49, 37),
    ],
    [
      "asctime with a zero-padded day (RFC 9110 §5.6.7 2DIGIT)",
      "Sun Nov 06 08:49:37 1994",
      RFC_EXAMPLE,
    ],
    ["the epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0],
    ["before the epoch", "Wed, 31 Dec 1969 23:59:59 GMT", -1000],
    ["the last IMF-fixdate", "Fri, 31 Dec 9999 23:59:59 GMT", 253402300799000],
    [
      "a four-digit year below 100 is not moved to 19xx",
      "Sat, 01 Jan 0050 00:00:00 GMT",
      utc(50, 1, 1),
    ],
    ["29 February in a leap year", "Thu, 29 Feb 2024 12:00:00 GMT", utc(2024, 2, 29, 12)],
    ["29 February in a 400-year leap year", "Tue, 29 Feb 2000 00:00:00 GMT", utc(2000, 2, 29)],
    [
      "a leap second reads as the next second (RFC 5322 §3.3)",
      "Sat, 31 Dec 2016 23:59:60 GMT",
      utc(2017, 1, 1),
    ],
    ["surrounding whitespace is tolerated", " \t Sun, 06 Nov 1994 08:49:37 GMT \t", RFC_EXAMPLE],
    [
      "a weekday that does not match the date is accepted",
      "Mon, 06 Nov 1994 08:49:37 GMT",
      RFC_EXAMPLE,
    ],
    [
      "RFC 850 with a long weekday of another length",
      "Wednesday, 09-Nov-94 08:49:37 GMT",
      utc(1994, 11, 9, 8, 49, 37),
    ],
    ["RFC 850 year 69 is 2069 without a clock", "Friday, 01-Jan-69 00:00:00 GMT", utc(2069, 1, 1)],
    ["RFC 850 year 70 is 1970 without a clock", "Thursday, 01-Jan-70 00:00:00 GMT", 0],
    // Invalid: RFC 9111 §5.3 then treats an Expires value as a time in the past.
    ["absent", undefined, null],
    ["null", null, null],
    ["empty", "", null],
    ['"0" (RFC 9111 §5.3)', "0", null],
    ["a negative number", "-1", null],
    ["February 29 in a common year", "Wed, 29 Feb 2023 00:00:00 GMT", null],
    ["February 29 in 1900", "Thu, 29 Feb 1900 00:00:00 GMT", null],
    ["April 31", "Tue, 31 Apr 2024 00:00:00 GMT", null],
    ["day 00", "Sun, 00 Nov 1994 08:49:37 GMT", null],
    ["day 32", "Sun, 32 Dec 1994 08:49:37 GMT", null],
    ["hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", null],
    ["minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", null],
    ["second 61", "Sun, 06 Nov 1994 08:49:61 GMT", null],

    // RFC 9110 §5.6.7: a recipient reads names in any case.
    ["a lowercase month and zone", "Sun, 06 nov 1994 08:49:37 gmt", RFC_EXAMPLE],
    ["upper-case names", "SUN, 06 NOV 1994 08:49:37 GMT", RFC_EXAMPLE],
    ["RFC 850 format in lower case", "sunday, 06-nov-94 08:49:37 gmt", RFC_EXAMPLE],
    ["asctime in mixed case", "sUN nOV  6 08:49:37 1994", RFC_EXAMPLE],
    ["a zone other than GMT", "Sun, 06 Nov 1994 08:49:37 UTC", null],
    ["a numeric zone (RFC 5322 style)", "Sun, 06 Nov 1994 08:49:37 +0000", null],
    ["an unknown weekday", "Sux, 06 Nov 1994 08:49:37 GMT", null],
    ["a long weekday in IMF-fixdate", "Sunday, 06 Nov 1994 08:49:37 GMT", null],
    ["a short weekday in RFC 850 format", "Sun, 06-Nov-94 08:49:37 GMT", null],
    ["a one-digit day in IMF-fixdate", "Sun, 6 Nov 1994 08:49:37 GMT", null],
    ["a two-digit year in IMF-fixdate", "Sun, 06 Nov 94 08:49:37 GMT", null],
    ["asctime with a single space before a one-digit day", "Sun Nov 6 08:49:37 1994", null],
    ["trailing garbage", "Sun, 06 Nov 1994 08:49:37 GMTx", null],
    ["an ISO 8601 timestamp", "1994-11-06T08:49:37Z", null],
    ["non-digits in the time", "Sun, 06 Nov 1994 08:4a:37 GMT", null],
    ["a signed hour", "Sun, 06 Nov 1994 +8:49:37 GMT", null],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseHttpDate(input)).toBe(expected);
  });

  // RFC 9110 §5.6.7: "interpret a timestamp that appears to be more than 50 years in the future
  // as representing the most recent year in the past that had the same last two digits".
  const now = utc(2025, 6, 1);
  const twoDigit: [string, string, number, number][] = [
    ["a year in the past stays there", "Sunday, 06-Nov-94 08:49:37 GMT", now, RFC_EXAMPLE],
    [
      "a near-future year stays in this century",
      "Friday, 01-Mar-30 00:00:00 GMT",
      now,
      utc(2030, 3, 1),
    ],
    [
      "49.75 years ahead is not more than 50 years in the future",
      "Friday, 01-Mar-75 00:00:00 GMT",
      now,
      utc(2075, 3, 1),
    ],
    [
      "50.5 years ahead moves to the previous century",
      "Monday, 01-Dec-75 00:00:00 GMT",
      now,
      utc(1975, 12, 1),
    ],
    [
      "the window slides: from 2060, year 05 is 2105",
      "Friday, 01-Jan-05 00:00:00 GMT",
      utc(2060, 1, 1),
      utc(2105, 1, 1),
    ],
    [
      "29 Feb 00 from 2075 skips 2100, which has no 29 February",
      "Tuesday, 29-Feb-00 00:00:00 GMT",
      utc(2075, 1, 1),
      utc(2000, 2, 29),
    ],
  ];
  it.each(twoDigit)(
    "two-digit year with a clock: %s (RFC 9110 §5.6.7)",
    (_name, input, nowMs, expected) => {
      expect(parseHttpDate(input, nowMs)).toBe(expected);
    },
  );
  it("the default two-digit rule differs from the 50-year rule when they should (RFC 9110 §5.6.7)", () => {
    expect(parseHttpDate("Friday, 01-Mar-75 00:00:00 GMT")).toBe(utc(1975, 3, 1));
  });
});

describe("formatHttpDate (RFC 9110 §5.6.7 IMF-fixdate)", () => {
  const cases: [string, number, string][] = [
    ["the RFC example", RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT"],
    ["milliseconds are truncated", RFC_EXAMPLE + 999, "Sun, 06 Nov 1994 08:49:37 GMT"],
    ["before the epoch rounds down to the whole second", -1, "Wed, 31 Dec 1969 23:59:59 GMT"],
    [
      "single-digit fields are zero-padded",
      utc(2001, 2, 3, 4, 5, 6),
      "Sat, 03 Feb 2001 04:05:06 GMT",
    ],
    ["years below 1000 have four digits", utc(50, 1, 1), "Sat, 01 Jan 0050 00:00:00 GMT"],
  ];
  it.each(cases)("%s", (_name, ms, expected) => {
    expect(formatHttpDate(ms)).toBe(expected);
  });
  it.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["year 10000", utc(10000, 1, 1)],
    ["a negative year", utc(-1, 1, 1)],
  ])("throws RangeError for %s, which IMF-fixdate cannot express", (_name, ms) => {
    expect(() => formatHttpDate(ms)).toThrow(RangeError);
  });
});

const MIN = utc(0, 1, 1);
const MAX = utc(9999, 12, 31, 23, 59, 59) + 999;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const LONG = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const p2 = (n: number) => String(n).padStart(2, "0");
const hms = (d: Date) => `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;

describe("HTTP-date properties", () => {
  it("formatHttpDate → parseHttpDate returns the instant truncated to the second", () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN, max: MAX }), (ms) => {
        expect(parseHttpDate(formatHttpDate(ms))).toBe(Math.floor(ms / 1000) * 1000);
      }),
      { numRuns: 2000 },
    );
  });
  it("asctime and RFC 850 (with a clock at that instant) parse to the same instant (RFC 9110 §5.6.7)", () => {
    fc.assert(
      fc.property(fc.integer({ min: utc(100, 1, 1), max: utc(9899, 12, 31) }), (raw) => {
        const ms = Math.floor(raw / 1000) * 1000;
        const d = new Date(ms);
        const y = d.getUTCFullYear();
        const mon = MONTHS[d.getUTCMonth()];
        const day = d.getUTCDate();
        const asctime = `${LONG[d.getUTCDay()]?.slice(0, 3)} ${mon} ${String(day).padStart(2, " ")} ${hms(d)} ${String(y).padStart(4, "0")}`;
        const rfc850 = `${LONG[d.getUTCDay()]}, ${p2(day)}-${mon}-${p2(y % 100)} ${hms(d)} GMT`;
        expect(parseHttpDate(asctime)).toBe(ms);
        expect(parseHttpDate(rfc850, ms)).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });
  it("arbitrary strings never throw and give null or an integral second", () => {
    const alphabet = fc.constantFrom(..."SunMoTe, 0123456789:-GMT NovDcJa\t".split(""));
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: alphabet, minLength: 20, maxLength: 34 })),
        (s) => {
          const r = parseHttpDate(s, 0);
          expect(r === null || (Number.isInteger(r) && r % 1000 === 0)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
  it("long input is rejected without scanning it", () => {
    const start = performance.now();
    for (let i = 0; i < 100; i++) expect(parseHttpDate("Sun, ".repeat(200_000))).toBeNull();
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
