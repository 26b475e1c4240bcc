import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type EntityTag,
  formatETag,
  parseETag,
  parseETagList,
  strongMatch,
  weakMatch,
} from "../../../core/http/etag.ts";

const strong = (tag: string): EntityTag => ({ weak: false, tag });
const weak = (tag: string): EntityTag => ({ weak: true, tag });

describe("parseETag (RFC 9110 §8.8.3)", () => {
  const cases: [string, string | null | undefined, EntityTag | null][] = [
    ["strong tag (RFC 9110 §8.8.3)", '"xyzzy"', strong("xyzzy")],
    ["weak tag (RFC 9110 §8.8.3)", 'W/"xyzzy"', weak("xyzzy")],
    ["empty opaque-tag (RFC 9110 §8.8.3)", '""', strong("")],
    ["surrounding whitespace", '  "abc"\t', strong("abc")],
    ["comma is a valid etagc (RFC 9110 §8.8.3)", '"a,b"', strong("a,b")],
    ["obs-text is a valid etagc (RFC 9110 §8.8.3)", '"caf\u00e9"', strong("caf\u00e9")],
    ["unquoted tag is invalid (RFC 9110 §8.8.3)", "xyzzy", null],
    ['lowercase w/ is invalid: weak is %s"W/" (RFC 9110 §8.8.3)', 'w/"xyzzy"', null],
    ["space inside the tag is invalid (RFC 9110 §8.8.3)", '"a b"', null],
    ["unterminated tag is invalid", '"abc', null],
    ["two tags are not one ETag", '"a", "b"', null],
    ["trailing junk is invalid", '"a"x', null],
    ["a character above U+00FF is invalid", '"\u0100"', null],
    ["absent", undefined, null],
    ["empty", "", null],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseETag(input)).toEqual(expected);
  });
});

describe("parseETagList (RFC 9110 §13.1.1, §13.1.2)", () => {
  const cases: [string, string | null | undefined, "*" | EntityTag[]][] = [
    ["* matches any representation (RFC 9110 §13.1.2)", "*", "*"],
    ["* with whitespace", " * ", "*"],
    [
      "list of tags (RFC 9110 §13.1.2)",
      '"xyzzy", "r2d2xxxx", "c3piozzzz"',
      [strong("xyzzy"), strong("r2d2xxxx"), strong("c3piozzzz")],
    ],
    ["weak and strong tags", 'W/"a",W/"b" ,"c"', [weak("a"), weak("b"), strong("c")]],
    [
      "commas inside tags do not split (RFC 9110 §8.8.3)",
      '"a,b", "c"',
      [strong("a,b"), strong("c")],
    ],
    [
      "invalid members are skipped",
      'bad, "ok", W/x, "a b", "last"',
      [strong("ok"), strong("last")],
    ],
    ["a * mixed with tags is an invalid member", '*, "a"', [strong("a")]],
    ["empty members are skipped (RFC 9110 §5.6.1)", ', , "a",,', [strong("a")]],
    ["absent", undefined, []],
    ["empty", "", []],
    ["unterminated tag is skipped", '"a", "b', [strong("a")]],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseETagList(input)).toEqual(expected);
  });
});

describe("entity-tag comparison (RFC 9110 §8.8.3.2)", () => {
  // The table of RFC 9110 §8.8.3.2.
  const table: [EntityTag, EntityTag, boolean, boolean][] = [
    [weak("1"), weak("1"), false, true],
    [weak("1"), weak("2"), false, false],
    [weak("1"), strong("1"), false, true],
    [strong("1"), strong("1"), true, true],
  ];
  it.each(table)("%o vs %o: strong %s, weak %s (RFC 9110 §8.8.3.2)", (a, b, s, w) => {
    expect(strongMatch(a, b)).toBe(s);
    expect(strongMatch(b, a)).toBe(s);
    expect(weakMatch(a, b)).toBe(w);
    expect(weakMatch(b, a)).toBe(w);
  });
});

describe("formatETag", () => {
  it("writes strong and weak tags (RFC 9110 §8.8.3)", () => {
    expect(formatETag(strong("abc"))).toBe('"abc"');
    expect(formatETag(weak("abc"))).toBe('W/"abc"');
  });
});

const etagc = fc.oneof(
  fc.constant("!"),
  fc.integer({ min: 0x23, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
);
const tagArb = fc.record({ weak: fc.boolean(), tag: fc.string({ unit: etagc, maxLength: 16 }) });

describe("entity-tag properties", () => {
  it("formatETag → parseETag is the identity", () => {
    fc.assert(
      fc.property(tagArb, (e) => {
        expect(parseETag(formatETag(e))).toEqual(e);
      }),
    );
  });
  it("a formatted list parses back to the same tags", () => {
    fc.assert(
      fc.property(fc.array(tagArb, { maxLength: 6 }), (tags) => {
        expect(parseETagList(tags.map(formatETag).join(", "))).toEqual(tags);
      }),
    );
  });
  it("arbitrary strings never throw", () => {
    const alphabet = fc.constantFrom(...'W/"a, *\t\u00e9'.split(""));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 30 })), (s) => {
        parseETag(s);
        const l = parseETagList(s);
        expect(l === "*" || Array.isArray(l)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it("long input is handled in linear time", () => {
    const start = performance.now();
    expect(parseETagList('"a", '.repeat(100_000))).toHaveLength(100_000);
    expect(parseETagList('x", '.repeat(100_000))).toEqual([]);
    expect(parseETagList(`"${"a".repeat(1_000_000)}`)).toEqual([]);
    expect(parseETag(`W/"${"a".repeat(1_000_000)}"`)?.tag).toHaveLength(1_000_000);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
