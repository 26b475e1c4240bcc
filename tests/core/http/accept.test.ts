import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type MediaRange, parseAccept, qualityOf } from "../../../core/http/accept.ts";

const mr = (
  type: string,
  subtype: string,
  q = 1,
  params: Record<string, string> = {},
): MediaRange => ({
  type,
  subtype,
  q,
  params,
});

describe("parseAccept (RFC 9110 §12.5.1)", () => {
  const cases: [string, string | null | undefined, MediaRange[]][] = [
    [
      "a browser's image Accept (RFC 9110 §12.5.1)",
      "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
      [
        mr("image", "avif"),
        mr("image", "webp"),
        mr("image", "apng"),
        mr("image", "svg+xml"),
        mr("image", "*"),
        mr("*", "*", 0.8),
      ],
    ],
    [
      "the RFC 9110 §12.5.1 example with parameters",
      "text/*, text/plain, text/plain;format=flowed, */*",
      [
        mr("text", "*"),
        mr("text", "plain"),
        mr("text", "plain", 1, { format: "flowed" }),
        mr("*", "*"),
      ],
    ],
    [
      "weight after other parameters (RFC 9110 §12.5.1)",
      "text/html;level=1;q=0.5",
      [mr("text", "html", 0.5, { level: "1" })],
    ],
    [
      "types, subtypes and parameter names are case-insensitive (RFC 9110 §8.3.1)",
      "Image/WEBP;Q=0.5;Charset=UTF-8",
      [mr("image", "webp", 0.5, { charset: "UTF-8" })],
    ],
    [
      "a comma inside a quoted parameter does not split members (RFC 9110 §5.6.4)",
      'text/plain;x="a,b\\"c", image/png',
      [mr("text", "plain", 1, { x: 'a,b"c' }), mr("image", "png")],
    ],
    [
      "OWS around separators (RFC 9110 §5.6.3)",
      " text/html ; q=0.5 ,\timage/png\t",
      [mr("text", "html", 0.5), mr("image", "png")],
    ],
    [
      "empty parameters are allowed (RFC 9110 §5.6.6)",
      "text/html;;q=0.2;",
      [mr("text", "html", 0.2)],
    ],
    ["empty members are skipped (RFC 9110 §5.6.1)", ", ,text/html,,", [mr("text", "html")]],
    ["q=0 means not acceptable (RFC 9110 §12.4.2)", "image/avif;q=0", [mr("image", "avif", 0)]],
    ['"0." is a valid qvalue (RFC 9110 §12.4.2)', "a/b;q=0.", [mr("a", "b", 0)]],
    ["q=1.000 is valid (RFC 9110 §12.4.2)", "a/b;q=1.000", [mr("a", "b", 1)]],
    ["three decimals are valid (RFC 9110 §12.4.2)", "a/b;q=0.001", [mr("a", "b", 0.001)]],
    ["q above 1 ignores the member (RFC 9110 §12.4.2)", "a/b;q=1.5, c/d", [mr("c", "d")]],
    ["q=1.001 ignores the member (RFC 9110 §12.4.2)", "a/b;q=1.001, c/d", [mr("c", "d")]],
    ["q=2 ignores the member (RFC 9110 §12.4.2)", "a/b;q=2, c/d", [mr("c", "d")]],
    ["a negative q ignores the member (RFC 9110 §12.4.2)", "a/b;q=-1, c/d", [mr("c", "d")]],
    ["four decimals ignore the member (RFC 9110 §12.4.2)", "a/b;q=0.1234, c/d", [mr("c", "d")]],
    ["q=.5 ignores the member (RFC 9110 §12.4.2)", "*/*;q=.2, c/d", [mr("c", "d")]],
    ["an empty q ignores the member (RFC 9110 §12.4.2)", "a/b;q=, c/d", [mr("c", "d")]],
    ["a non-numeric q ignores the member (RFC 9110 §12.4.2)", "a/b;q=high, c/d", [mr("c", "d")]],
    ["*/subtype is not a media-range (RFC 9110 §12.5.1)", "*/html, c/d", [mr("c", "d")]],
    ["a lone * is not a media-range (RFC 9110 §12.5.1)", "*, c/d", [mr("c", "d")]],
    ["a type without a subtype is ignored", "text, text/, /html, c/d", [mr("c", "d")]],
    ["a parameter without a value is ignored with its member", "a/b;level, c/d", [mr("c", "d")]],
    ["an unterminated quoted parameter swallows the rest", 'a/b;x="oops, c/d', []],
    ["absent", undefined, []],
    ["empty", "", []],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseAccept(input)).toEqual(expected);
  });
});

describe("qualityOf (RFC 9110 §12.5.1)", () => {
  const cases: [string, string, string, string, { explicitOnly?: boolean } | undefined, number][] =
    [
      [
        "an exact range beats type/* (RFC 9110 §12.5.1)",
        "image/*;q=0.5, image/webp;q=0.8",
        "image",
        "webp",
        undefined,
        0.8,
      ],
      [
        "type/* applies when there is no exact range",
        "image/*;q=0.5, image/webp;q=0.8",
        "image",
        "avif",
        undefined,
        0.5,
      ],
      [
        "type/* beats */* (RFC 9110 §12.5.1)",
        "*/*;q=0.1, image/*;q=0.7",
        "image",
        "png",
        undefined,
        0.7,
      ],
      ["*/* applies to anything else", "*/*;q=0.1, image/*;q=0.7", "text", "html", undefined, 0.1],
      ["no matching range gives 0 (RFC 9110 §12.5.1)", "image/*", "text", "html", undefined, 0],
      ["an empty Accept matches nothing here", "", "image", "webp", undefined, 0],
      [
        "an explicit q=0 refuses despite */* (RFC 9110 §12.4.2)",
        "*/*, image/avif;q=0",
        "image",
        "avif",
        undefined,
        0,
      ],
      [
        "explicitOnly ignores wildcards",
        "image/*, */*",
        "image",
        "avif",
        { explicitOnly: true },
        0,
      ],
      [
        "explicitOnly counts an exact range",
        "image/avif;q=0.9, */*",
        "image",
        "avif",
        { explicitOnly: true },
        0.9,
      ],
      [
        "a range with parameters does not match a parameterless type",
        "image/webp;foo=bar, */*;q=0.1",
        "image",
        "webp",
        undefined,
        0.1,
      ],
      [
        "the lowest q of duplicate ranges wins",
        "image/webp, image/webp;q=0.2",
        "image",
        "webp",
        undefined,
        0.2,
      ],
      [
        "arguments are compared case-insensitively",
        "image/webp;q=0.3",
        "IMAGE",
        "WebP",
        undefined,
        0.3,
      ],
      [
        "an ignored member (bad q) does not count",
        "image/webp;q=5, */*;q=0.4",
        "image",
        "webp",
        undefined,
        0.4,
      ],
    ];
  it.each(cases)("%s", (_name, accept, type, subtype, options, expected) => {
    expect(qualityOf(parseAccept(accept), type, subtype, options)).toBe(expected);
  });
});

const token = fc.stringMatching(/^[!#$%&'+\-.^_`|~0-9a-z]{1,8}$/);
const qArb = fc.integer({ min: 0, max: 1000 });
const rangeArb = fc.record({
  type: token,
  subtype: token,
  q: qArb,
  params: fc.dictionary(
    token.filter((k) => k !== "q" && k !== "__proto__"),
    token,
    { maxKeys: 2 },
  ),
});

describe("Accept properties", () => {
  it("serialized ranges parse back, q with up to three decimals (RFC 9110 §12.4.2)", () => {
    fc.assert(
      fc.property(fc.array(rangeArb, { maxLength: 5 }), (ranges) => {
        const header = ranges
          .map((r) => {
            const params = Object.entries(r.params).map(([k, v]) => `;${k}=${v}`);
            return `${r.type}/${r.subtype}${params.join("")};q=${(r.q / 1000).toFixed(3)}`;
          })
          .join(", ");
        expect(parseAccept(header)).toEqual(ranges.map((r) => ({ ...r, q: r.q / 1000 })));
      }),
    );
  });
  it("arbitrary strings never throw and give well-formed ranges", () => {
    const alphabet = fc.constantFrom(...'a/*;q=0.1," \t\\Xé'.split(""));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 40 })), (s) => {
        for (const r of parseAccept(s)) {
          expect(r.q >= 0 && r.q <= 1).toBe(true);
          expect(r.type).toBe(r.type.toLowerCase());
          expect(r.subtype).toBe(r.subtype.toLowerCase());
        }
        const q = qualityOf(parseAccept(s), "image", "webp");
        expect(q >= 0 && q <= 1).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it("long input is handled in linear time", () => {
    const start = performance.now();
    expect(parseAccept("image/webp;q=0.5, ".repeat(50_000))).toHaveLength(50_000);
    expect(parseAccept(`a/b;x="${"\\,".repeat(200_000)}`)).toEqual([]);
    expect(parseAccept(";".repeat(500_000))).toEqual([]);
    expect(parseAccept(`a/b${";".repeat(500_000)}`)).toHaveLength(1);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
