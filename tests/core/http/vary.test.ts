import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseVary } from "../../../core/http/vary.ts";

describe("parseVary (RFC 9110 §12.5.5)", () => {
  const cases: [string, string | null | undefined, "*" | string[]][] = [
    ["one field", "Accept-Encoding", ["accept-encoding"]],
    [
      "names are lowercased: field names are case-insensitive (RFC 9110 §5.1)",
      "ACCEPT, Origin",
      ["accept", "origin"],
    ],
    ["duplicates in any case are removed", "accept, Accept, ACCEPT", ["accept"]],
    [
      "the result is sorted, so order does not matter",
      "Origin, Accept-Encoding, Accept",
      ["accept", "accept-encoding", "origin"],
    ],
    ["empty members and OWS are ignored (RFC 9110 §5.6.1)", " , accept ,\t, ", ["accept"]],
    ["* means never matches (RFC 9110 §12.5.5, RFC 9111 §4.1)", "*", "*"],
    ["* anywhere in the list wins (RFC 9111 §4.1)", "Accept, *, Origin", "*"],
    ["an invalid field name is treated as * (conservative)", "Accept Encoding", "*"],
    ["a non-ASCII field name is treated as * (conservative)", "Accépt", "*"],
    ["absent", undefined, []],
    ["null", null, []],
    ["empty", "", []],
    ["only commas", ", ,", []],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseVary(input)).toEqual(expected);
  });

  const name = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/).filter((s) => s !== "*");
  it("any order, case and spacing of the same names gives the same result", () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 6 }), (names) => {
        const shuffled = [...names].reverse().map((n, i) => (i % 2 ? n.toUpperCase() : ` ${n}\t`));
        expect(parseVary(shuffled.join(","))).toEqual(parseVary(names.join(", ")));
        const r = parseVary(names.join(", "));
        expect(r).toEqual([...new Set(names.map((n) => n.toLowerCase()))].sort());
      }),
    );
  });
  it("arbitrary strings never throw", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = parseVary(s);
        expect(r === "*" || Array.isArray(r)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
  it("long input is handled in linear time", () => {
    const start = performance.now();
    expect(parseVary("accept, ".repeat(200_000))).toEqual(["accept"]);
    expect(parseVary(",".repeat(1_000_000))).toEqual([]);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
