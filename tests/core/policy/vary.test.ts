import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { captureVary, normaliseVaryValue, varyMatches } from "../../../core/policy/index.ts";

const capture = (vary: string, request: Record<string, string>) =>
  captureVary(new Headers({ vary }), new Headers(request));

describe("Vary: selecting a stored response by request fields (RFC 9111 §4.1)", () => {
  it.each([
    ["identical values match", "accept-language", "en-GB", "en-GB", true],
    ["different values do not", "accept-language", "en-GB", "fr", false],
    ["whitespace around commas is not significant", "accept-encoding", "gzip, br", "gzip,br", true],
    ["leading and trailing whitespace is not significant", "x-a", " v ", "v", true],
    ["inner whitespace is significant", "x-a", "a b", "ab", false],
    ["Accept-Encoding is compared case-insensitively", "accept-encoding", "GZIP", "gzip", true],
    ["an unknown field is compared case-sensitively", "x-device", "Mobile", "mobile", false],
    ["order of list members is significant", "accept-encoding", "gzip, br", "br, gzip", false],
  ])("%s", (_, field, storedValue, requestValue, expected) => {
    const c = capture(field, { [field]: storedValue });
    expect(c).not.toBe("*");
    if (c === "*") return;
    expect(varyMatches(c, new Headers({ [field]: requestValue }))).toBe(expected);
  });

  it("absent matches absent, and only absent", () => {
    const c = capture("x-device", {});
    if (c === "*") throw new Error("unexpected *");
    expect(varyMatches(c, new Headers())).toBe(true);
    expect(varyMatches(c, new Headers({ "x-device": "" }))).toBe(false);
  });

  it("Vary: * is reported so the caller never reuses the response", () => {
    expect(capture("accept, *", {})).toBe("*");
  });

  it("a response without Vary matches every request", () => {
    expect(capture("", {})).toBeNull();
    expect(varyMatches(null, new Headers({ anything: "x" }))).toBe(true);
  });

  it("matching agrees with comparing normalised values, for any values", () => {
    const value = fc.stringMatching(/^[ \tA-Za-z,;=.0-9*-]{0,24}$/);
    fc.assert(
      fc.property(fc.constantFrom("accept-encoding", "x-custom"), value, value, (field, a, b) => {
        const c = capture(field, { [field]: a });
        if (c === "*" || c === null) return;
        // Headers trims the ends of values itself; compare what it actually holds.
        const held = new Headers({ [field]: b }).get(field);
        const expected = normaliseVaryValue(field, held) === c.values[0];
        expect(varyMatches(c, new Headers({ [field]: b }))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
