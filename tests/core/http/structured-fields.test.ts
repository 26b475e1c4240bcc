import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
  type ListMember,
  parseDictionary,
  parseItem,
  parseList,
  type SfList,
  StructuredFieldError,
  serializeBareItem,
  serializeDictionary,
  serializeItem,
  serializeList,
  Token,
  tryParseDictionary,
  tryParseList,
} from "../../../core/http/structured-fields.ts";

const tok = (v: string) => new Token(v);
const item = (value: BareItem, params: [string, BareItem][] = []): Item => ({
  value,
  params: new Map(params),
});
const dec = (value: number, params: [string, BareItem][] = []): Item => ({
  ...item(value, params),
  decimal: true,
});
const inner = (items: Item[], params: [string, BareItem][] = []): InnerList => ({
  value: items,
  params: new Map(params),
});
const bytes = (s: string) => new TextEncoder().encode(s);

describe("RFC 8941 examples parse and re-serialize", () => {
  const lists: [string, string, SfList, string][] = [
    [
      "list of tokens (RFC 8941 §3.1)",
      "sugar, tea, rum",
      [item(tok("sugar")), item(tok("tea")), item(tok("rum"))],
      "sugar, tea, rum",
    ],
    [
      "inner lists, including an empty one (RFC 8941 §3.1.1)",
      '("foo" "bar"), ("baz"), ("bat" "one"), ()',
      [
        inner([item("foo"), item("bar")]),
        inner([item("baz")]),
        inner([item("bat"), item("one")]),
        inner([]),
      ],
      '("foo" "bar"), ("baz"), ("bat" "one"), ()',
    ],
    [
      "parameters on inner lists and their items (RFC 8941 §3.1.1)",
      '("foo"; a=1;b=2);lvl=5, ("bar" "baz");lvl=1',
      [
        inner(
          [
            item("foo", [
              ["a", 1],
              ["b", 2],
            ]),
          ],
          [["lvl", 5]],
        ),
        inner([item("bar"), item("baz")], [["lvl", 1]]),
      ],
      '("foo";a=1;b=2);lvl=5, ("bar" "baz");lvl=1',
    ],
    [
      "parameters with and without values (RFC 8941 §3.1.2)",
      'abc;a=1;b=2; cde_456, (ghi;jk=4 l);q="9";r=w',
      [
        item(tok("abc"), [
          ["a", 1],
          ["b", 2],
          ["cde_456", true],
        ]),
        inner(
          [item(tok("ghi"), [["jk", 4]]), item(tok("l"))],
          [
            ["q", "9"],
            ["r", tok("w")],
          ],
        ),
      ],
      'abc;a=1;b=2;cde_456, (ghi;jk=4 l);q="9";r=w',
    ],
  ];
  it.each(lists)("%s", (_name, input, expected, canonical) => {
    const parsed = parseList(input);
    expect(parsed).toStrictEqual(expected);
    expect(serializeList(parsed)).toBe(canonical);
  });

  const dicts: [string, string, [string, ListMember][], string][] = [
    [
      "string and byte sequence values (RFC 8941 §3.2)",
      'en="Applepie", da=:w4ZibGV0w6ZydGU=:',
      [
        ["en", item("Applepie")],
        ["da", item(bytes("Æbletærte"))],
      ],
      'en="Applepie", da=:w4ZibGV0w6ZydGU=:',
    ],
    [
      "a key without a value is Boolean true, ?0 is false (RFC 8941 §3.2)",
      "a=?0, b, c; foo=bar",
      [
        ["a", item(false)],
        ["b", item(true)],
        ["c", item(true, [["foo", tok("bar")]])],
      ],
      "a=?0, b, c;foo=bar",
    ],
    [
      "decimal and inner-list values (RFC 8941 §3.2)",
      "rating=1.5, feelings=(joy sadness)",
      [
        ["rating", dec(1.5)],
        ["feelings", inner([item(tok("joy")), item(tok("sadness"))])],
      ],
      "rating=1.5, feelings=(joy sadness)",
    ],
    [
      "mixed members with parameters (RFC 8941 §3.2)",
      "a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid",
      [
        ["a", inner([item(1), item(2)])],
        ["b", item(3)],
        ["c", item(4, [["aa", tok("bb")]])],
        ["d", inner([item(5), item(6)], [["valid", true]])],
      ],
      "a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid",
    ],
  ];
  it.each(dicts)("%s", (_name, input, expected, canonical) => {
    const parsed = parseDictionary(input);
    expect([...parsed]).toStrictEqual(expected);
    expect(serializeDictionary(parsed)).toBe(canonical);
  });

  const items: [string, string, Item, string][] = [
    [
      "item with a parameter (RFC 8941 §3.3)",
      "5; foo=bar",
      item(5, [["foo", tok("bar")]]),
      "5;foo=bar",
    ],
    ["integer (RFC 8941 §3.3.1)", "42", item(42), "42"],
    ["negative integer (RFC 8941 §3.3.1)", "-42", item(-42), "-42"],
    ["decimal (RFC 8941 §3.3.2)", "4.5", dec(4.5), "4.5"],
    ["decimal with an integral value stays a decimal (RFC 8941 §3.3.2)", "5.0", dec(5), "5.0"],
    ["string (RFC 8941 §3.3.3)", '"hello world"', item("hello world"), '"hello world"'],
    ["string escapes (RFC 8941 §3.3.3)", '"a\\"b\\\\c"', item('a"b\\c'), '"a\\"b\\\\c"'],
    ["token with / and : (RFC 8941 §3.3.4)", "foo123/456", item(tok("foo123/456")), "foo123/456"],
    [
      "byte sequence (RFC 8941 §3.3.5)",
      ":cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:",
      item(bytes("pretend this is binary content.")),
      ":cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:",
    ],
    ["boolean (RFC 8941 §3.3.6)", "?1", item(true), "?1"],
    [
      "parameter with a string value (RFC 8941 §2)",
      '2; foourl="https://foo.example.com/"',
      item(2, [["foourl", "https://foo.example.com/"]]),
      '2;foourl="https://foo.example.com/"',
    ],
    ["leading and trailing SP are discarded (RFC 8941 §4.2)", "  1  ", item(1), "1"],
    [
      "15-digit integer is the maximum (RFC 8941 §3.3.1)",
      "999999999999999",
      item(999999999999999),
      "999999999999999",
    ],
    [
      "base64 without padding is accepted (RFC 8941 §4.2.7)",
      ":aGVsbG8:",
      item(bytes("hello")),
      ":aGVsbG8=:",
    ],
    [
      "non-zero pad bits are accepted (RFC 8941 §4.2.7)",
      ":iZ==:",
      item(new Uint8Array([0x89])),
      ":iQ==:",
    ],
    ["empty byte sequence (RFC 8941 §3.3.5)", "::", item(new Uint8Array([])), "::"],
  ];
  it.each(items)("%s", (_name, input, expected, canonical) => {
    const parsed = parseItem(input);
    expect(parsed).toStrictEqual(expected);
    expect(serializeItem(parsed)).toBe(canonical);
  });
});

describe("RFC 8941 §4.2 parsing rules", () => {
  it("an empty or all-SP list is an empty list (RFC 8941 §4.2.1)", () => {
    expect(parseList("")).toEqual([]);
    expect(parseList("   ")).toEqual([]);
    expect(parseDictionary("").size).toBe(0);
  });
  it("OWS, including tabs, is allowed around list commas (RFC 8941 §4.2.1)", () => {
    expect(parseList("a \t,\t b")).toStrictEqual([item(tok("a")), item(tok("b"))]);
  });
  it("a duplicate dictionary key overwrites the value but keeps the first position (RFC 8941 §4.2.2)", () => {
    const d = parseDictionary("a=1, b=2, a=3");
    expect([...d.keys()]).toEqual(["a", "b"]);
    expect(d.get("a")).toStrictEqual(item(3));
    expect(serializeDictionary(d)).toBe("a=3, b=2");
  });
  it("a duplicate parameter overwrites the earlier one (RFC 8941 §4.2.3.2)", () => {
    expect(parseItem("1;a=1;b;a=2")).toStrictEqual(
      item(1, [
        ["a", 2],
        ["b", true],
      ]),
    );
  });
  it("tokens and strings are distinct types (RFC 8941 §3.3.3, §3.3.4)", () => {
    const [t, s] = parseList('foo, "foo"');
    expect(t?.value).toBeInstanceOf(Token);
    expect(s?.value).toBe("foo");
  });

  const failures: [string, (s: string) => unknown, string][] = [
    ["trailing comma in a list (RFC 8941 §4.2.1)", parseList, "a, b,"],
    ["empty list member (RFC 8941 §4.2.1)", parseList, "a,,b"],
    ["members not separated by a comma (RFC 8941 §4.2.1)", parseList, "a b"],
    ["unterminated inner list (RFC 8941 §4.2.1.2)", parseList, "(a b"],
    ["comma inside an inner list (RFC 8941 §4.2.1.2)", parseList, "(a, b)"],
    ["leading tab is not discarded at the top level (RFC 8941 §4.2)", parseList, "\ta"],
    ["non-ASCII input (RFC 8941 §4.2 step 1)", parseList, "a, é"],
    ["uppercase dictionary key (RFC 8941 §4.2.3.3)", parseDictionary, "A=1"],
    ["dictionary key starting with a digit (RFC 8941 §4.2.3.3)", parseDictionary, "1a=1"],
    ["trailing comma in a dictionary (RFC 8941 §4.2.2)", parseDictionary, "a=1,"],
    ["dictionary members separated by SP only (RFC 8941 §4.2.2)", parseDictionary, "a=1 b=2"],
    ["empty item (RFC 8941 §4.2.3.1)", parseItem, ""],
    ["two items where one is expected (RFC 8941 §4.2 step 7)", parseItem, "1 2"],
    ["uppercase parameter key (RFC 8941 §4.2.3.3)", parseItem, "a;A=1"],
    ["SP before a parameter's semicolon (RFC 8941 §4.2.3.2)", parseItem, "a ;b"],
    ["lone minus sign (RFC 8941 §4.2.4)", parseItem, "-"],
    ["16-digit integer (RFC 8941 §4.2.4)", parseItem, "1234567890123456"],
    ["decimal with 13 integer digits (RFC 8941 §4.2.4)", parseItem, "1234567890123.0"],
    ["decimal with 4 fractional digits (RFC 8941 §4.2.4)", parseItem, "0.1234"],
    ["decimal ending in a dot (RFC 8941 §4.2.4)", parseItem, "1."],
    ["two dots (RFC 8941 §4.2.4)", parseItem, "1.2.3"],
    ["unterminated string (RFC 8941 §4.2.5)", parseItem, '"abc'],
    ["invalid escape in a string (RFC 8941 §4.2.5)", parseItem, '"a\\x"'],
    ["control character in a string (RFC 8941 §4.2.5)", parseItem, '"a\u0001"'],
    ["unterminated byte sequence (RFC 8941 §4.2.7)", parseItem, ":aGVsbG8="],
    ["padding in the middle of base64 (RFC 8941 §4.2.7)", parseItem, ":a=GVsbG8=:"],
    ["too much base64 padding (RFC 8941 §4.2.7)", parseItem, ":aGVsbG8===:"],
    ["base64url alphabet (RFC 8941 §4.2.7)", parseItem, ":_-Ah:"],
    ["space inside a byte sequence (RFC 8941 §4.2.7)", parseItem, ":aGVsb G8=:"],
    ["boolean other than ?0 / ?1 (RFC 8941 §4.2.8)", parseItem, "?2"],
    ["item starting with an invalid character (RFC 8941 §4.2.3.1)", parseItem, "@foo"],
  ];
  it.each(failures)("fails: %s", (_name, parse, input) => {
    expect(() => parse(input)).toThrow(StructuredFieldError);
  });
  it("tryParseList / tryParseDictionary return null instead of throwing", () => {
    expect(tryParseList("a,")).toBeNull();
    expect(tryParseDictionary("A=1")).toBeNull();
    expect(tryParseDictionary("a=1")?.get("a")).toStrictEqual(item(1));
  });
});

describe("RFC 8941 §4.1 serialization", () => {
  const ok: [string, BareItem, string][] = [
    ["decimal ties round to even, down (RFC 8941 §4.1.5)", 0.0625, "0.062"],
    ["decimal ties round to even, up (RFC 8941 §4.1.5)", 0.1875, "0.188"],
    ["negative decimal ties round to even (RFC 8941 §4.1.5)", -0.0625, "-0.062"],
    ["decimal trailing zeros are dropped (RFC 8941 §4.1.5)", 1.5, "1.5"],
    ["a tiny negative decimal rounds to 0.0, not -0.0 (RFC 8941 §4.1.5)", -0.0001, "0.0"],
    ["integral number is an Integer (RFC 8941 §4.1.4)", 12, "12"],
    ["string escapes DQUOTE and backslash (RFC 8941 §4.1.6)", 'say "hi"\\', '"say \\"hi\\"\\\\"'],
    ["false boolean (RFC 8941 §4.1.9)", false, "?0"],
    [
      "byte sequence is padded base64 (RFC 8941 §4.1.8)",
      new Uint8Array([0xff, 0xe0, 0x21]),
      ":/+Ah:",
    ],
  ];
  it.each(ok)("%s", (_name, value, expected) => {
    expect(serializeBareItem(value)).toBe(expected);
  });

  const bad: [string, () => string][] = [
    ["integer beyond 15 digits (RFC 8941 §4.1.4)", () => serializeBareItem(1e15)],
    ["decimal with 13 integer digits (RFC 8941 §4.1.5)", () => serializeBareItem(1e12 + 0.5)],
    ["NaN", () => serializeBareItem(Number.NaN)],
    ["non-ASCII string (RFC 8941 §4.1.6)", () => serializeBareItem("é")],
    ["invalid token (RFC 8941 §4.1.7)", () => serializeBareItem(tok("1abc"))],
    ["token with a space (RFC 8941 §4.1.7)", () => serializeBareItem(tok("a b"))],
    ["invalid parameter key (RFC 8941 §4.1.1.3)", () => serializeItem(item(1, [["Key", 1]]))],
    ["invalid dictionary key (RFC 8941 §4.1.1.3)", () => serializeDictionary([["", item(1)]])],
  ];
  it.each(bad)("fails: %s", (_name, fn) => {
    expect(fn).toThrow(StructuredFieldError);
  });
  it("an empty list serializes to an empty string (RFC 8941 §4.1.1)", () => {
    expect(serializeList([])).toBe("");
  });
  it("a dictionary member that is Boolean true is written as the bare key (RFC 8941 §4.1.2)", () => {
    const d: Dictionary = new Map([
      ["a", item(true, [["p", 1]])],
      ["b", item(false)],
    ]);
    expect(serializeDictionary(d)).toBe("a;p=1, b=?0");
  });
});

// ---------- properties ----------

const keyArb = fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,6}$/);
const tokenArb = fc
  .stringMatching(/^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]{0,8}$/)
  .map((s) => new Token(s));
const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const stringArb = fc.string({ unit: printable, maxLength: 12 });
const intArb = fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 });
const decimalArb = fc
  .integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 })
  .map((n) => n / 1000);
const bareArb: fc.Arbitrary<BareItem> = fc.oneof(
  intArb,
  stringArb,
  tokenArb,
  fc.uint8Array({ maxLength: 12 }),
  fc.boolean(),
);
const paramsArb = fc
  .uniqueArray(fc.tuple(keyArb, bareArb), { selector: ([k]) => k, maxLength: 3 })
  .map((entries) => new Map(entries));
const itemArb: fc.Arbitrary<Item> = fc.oneof(
  fc.record({ value: bareArb, params: paramsArb }),
  // Decimals carry the flag, as the parser sets it, so integral decimals round-trip too.
  fc.record({ value: decimalArb, params: paramsArb, decimal: fc.constant(true) }),
);
const memberArb: fc.Arbitrary<ListMember> = fc.oneof(
  itemArb,
  fc.record({ value: fc.array(itemArb, { maxLength: 3 }), params: paramsArb }),
);

describe("structured field properties", () => {
  it("serialize → parse is the identity for lists (RFC 8941 §4)", () => {
    fc.assert(
      fc.property(fc.array(memberArb, { maxLength: 4 }), (list) => {
        expect(parseList(serializeList(list))).toEqual(list);
      }),
    );
  });
  it("serialize → parse is the identity for dictionaries (RFC 8941 §4)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(keyArb, memberArb), { selector: ([k]) => k, maxLength: 4 }),
        (entries) => {
          expect([...parseDictionary(serializeDictionary(entries))]).toEqual(entries);
        },
      ),
    );
  });
  it("random input either parses or throws StructuredFieldError, never anything else", () => {
    const alphabet = fc.constantFrom(...'a1-.;=,() \t"\\:?*/Zé\u0000'.split(""));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 40 })), (s) => {
        for (const parse of [parseList, parseDictionary, parseItem]) {
          try {
            parse(s);
          } catch (e) {
            expect(e).toBeInstanceOf(StructuredFieldError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
  it("long inputs are handled in linear time (200,000 members: a quadratic parser would take minutes)", () => {
    const n = 200_000;
    const start = performance.now();
    expect(parseList("a, ".repeat(n).slice(0, -2))).toHaveLength(n);
    expect(parseList(`(${"1 ".repeat(n)})`)[0]?.value).toHaveLength(n);
    expect(tryParseList(`"${"\\\\".repeat(n)}`)).toBeNull();
    expect(tryParseList(`:${"A".repeat(n)}`)).toBeNull();
    expect(parseDictionary(Array.from({ length: n }, (_, i) => `k${i}=1`).join(",")).size).toBe(n);
    // Far above the half second this takes, so a busy machine cannot fail it; far below
    // what n² steps would cost.
    expect(performance.now() - start).toBeLessThan(15_000);
  });
});
