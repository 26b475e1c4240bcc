import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAge } from "../../../core/http/age.ts";

describe("parseAge (RFC 9111 §5.1)", () => {
  const cases: [string, string | null | undefined, number | null][] = [
    ["a non-negative integer", "120", 120],
    ["zero", "0", 0],
    ["surrounding whitespace is list syntax, not part of the value", " \t60 ", 60],
    ["a list-based value uses the first member (RFC 9111 §5.1)", "10, 20", 10],
    ["the first member is used even when a later one is invalid (RFC 9111 §5.1)", "10, x", 10],
    ["an invalid first member ignores the field (RFC 9111 §5.1)", "x, 10", null],
    ["an empty first member ignores the field (RFC 9111 §5.1)", ", 10", null],
    ["overflow clamps to 2^31 (RFC 9111 §1.2.2)", "99999999999999999999999", 2147483648],
    ["absent", undefined, null],
    ["null", null, null],
    ["empty", "", null],
    ["whitespace only", "   ", null],
    ["negative (RFC 9111 §5.1: not a non-negative integer)", "-1", null],
    ["decimal", "1.5", null],
    ["signed", "+1", null],
    ["internal space", "1 2", null],
    ["hex", "0x10", null],
    ["quoted", '"5"', null],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(parseAge(input)).toBe(expected);
  });

  it("any non-negative integer reads back, clamped at 2^31 (RFC 9111 §1.2.2)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 25n }), (n) => {
        expect(parseAge(`${n}`)).toBe(n > 2147483648n ? 2147483648 : Number(n));
      }),
    );
  });
  it("arbitrary strings never throw and give null or a non-negative integer", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = parseAge(s);
        expect(r === null || (Number.isInteger(r) && r >= 0 && r <= 2147483648)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
  it("long input is handled in linear time", () => {
    const start = performance.now();
    expect(parseAge("1".repeat(1_000_000))).toBe(2147483648);
    expect(parseAge(`${" ".repeat(500_000)}x`)).toBeNull();
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
