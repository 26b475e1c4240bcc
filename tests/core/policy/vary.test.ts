import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  captureVary,
  type HeaderReader,
  normaliseVaryValue,
  type VaryCapture,
  varyMatches,
} from "../../../core/policy/index.ts";

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

/**
 * Both directions of §4.1 ("absent matches only absent", a different value never
 * matches), and a request must match every field, not some: a table, run against the
 * real matcher and against deliberately wrong ones, each of which must fail some case.
 */
interface SelectionCase {
  readonly name: string;
  /** The stored response's Vary. */
  readonly vary: string;
  /** The request the stored response was fetched for. */
  readonly storedFor: Record<string, string>;
  /** The request looking it up. */
  readonly lookup: Record<string, string>;
  readonly matches: boolean;
}

const SELECTION: readonly SelectionCase[] = [
  {
    name: "same value",
    vary: "x-device",
    storedFor: { "x-device": "tv" },
    lookup: { "x-device": "tv" },
    matches: true,
  },
  {
    name: "stored for a value, asked with another",
    vary: "x-device",
    storedFor: { "x-device": "tv" },
    lookup: { "x-device": "phone" },
    matches: false,
  },
  {
    name: "stored for a value, asked without the field",
    vary: "x-device",
    storedFor: { "x-device": "tv" },
    lookup: {},
    matches: false,
  },
  {
    name: "stored for absence, asked with a value",
    vary: "x-device",
    storedFor: {},
    lookup: { "x-device": "tv" },
    matches: false,
  },
  {
    name: "stored for absence, asked with an empty value",
    vary: "x-device",
    storedFor: {},
    lookup: { "x-device": "" },
    matches: false,
  },
  {
    name: "stored for an empty value, asked without the field",
    vary: "x-device",
    storedFor: { "x-device": "" },
    lookup: {},
    matches: false,
  },
  {
    name: "stored for absence, asked without the field",
    vary: "x-device",
    storedFor: {},
    lookup: {},
    matches: true,
  },
  {
    name: "stored for a value, asked with a longer one",
    vary: "accept-language",
    storedFor: { "accept-language": "en" },
    lookup: { "accept-language": "en, fr" },
    matches: false,
  },
  {
    name: "stored for a value, asked with a shorter one",
    vary: "accept-language",
    storedFor: { "accept-language": "en, fr" },
    lookup: { "accept-language": "en" },
    matches: false,
  },
  {
    name: "every field must match: the first differs",
    vary: "accept-language, x-device",
    storedFor: { "accept-language": "en", "x-device": "tv" },
    lookup: { "accept-language": "fr", "x-device": "tv" },
    matches: false,
  },
  {
    name: "every field must match: the last differs",
    vary: "accept-language, x-device",
    storedFor: { "accept-language": "en", "x-device": "tv" },
    lookup: { "accept-language": "en", "x-device": "phone" },
    matches: false,
  },
  {
    name: "values swapped between two fields",
    vary: "x-a, x-b",
    storedFor: { "x-a": "1" },
    lookup: { "x-b": "1" },
    matches: false,
  },
  {
    name: "two fields, all the same",
    vary: "X-A, x-b",
    storedFor: { "x-a": "1", "x-b": "2" },
    lookup: { "x-a": "1", "x-b": "2" },
    matches: true,
  },
  {
    name: "fields outside Vary do not matter",
    vary: "x-a",
    storedFor: { "x-a": "1", "x-z": "a" },
    lookup: { "x-a": "1", "x-z": "b" },
    matches: true,
  },
];

type Matcher = (capture: VaryCapture | null, request: HeaderReader) => boolean;

/** Each field's normalised value in the request, in the capture's order. */
const values = (c: VaryCapture, request: HeaderReader): (string | null)[] =>
  c.fields.map((f) => normaliseVaryValue(f, request.get(f)));

const WRONG: readonly [string, Matcher][] = [
  ["matches everything", () => true],
  [
    "compares only presence",
    (c, r) => c === null || values(c, r).every((v, i) => (v === null) === (c.values[i] === null)),
  ],
  [
    "lets a request without the field match any value",
    (c, r) => c === null || values(c, r).every((v, i) => v === null || v === c.values[i]),
  ],
  [
    "lets an entry stored for absence match any value",
    (c, r) => c === null || values(c, r).every((v, i) => c.values[i] === null || v === c.values[i]),
  ],
  [
    "treats absent as empty",
    (c, r) => c === null || values(c, r).every((v, i) => (v ?? "") === (c.values[i] ?? "")),
  ],
  ["checks only the first field", (c, r) => c === null || values(c, r)[0] === c.values[0]],
  ["checks only the last field", (c, r) => c === null || values(c, r).at(-1) === c.values.at(-1)],
  [
    "needs only one field to match",
    (c, r) => c === null || values(c, r).some((v, i) => v === c.values[i]),
  ],
  [
    "matches by prefix",
    (c, r) =>
      c === null ||
      values(c, r).every((v, i) => {
        const s = c.values[i] ?? null;
        return v === s || (v !== null && s !== null && (v.startsWith(s) || s.startsWith(v)));
      }),
  ],
];

function run(matcher: Matcher, c: SelectionCase): boolean {
  const captured = capture(c.vary, c.storedFor);
  if (captured === "*") throw new Error("unexpected *");
  return matcher(captured, new Headers(c.lookup));
}

describe("Vary selection in both directions (RFC 9111 §4.1)", () => {
  it.each(SELECTION)("$name: $matches", (c) => {
    expect(run(varyMatches, c)).toBe(c.matches);
  });

  it.each(WRONG)("a matcher that %s fails at least one case", (_, wrong) => {
    const failed = SELECTION.filter((c) => run(wrong, c) !== c.matches).map((c) => c.name);
    expect(failed.length).toBeGreaterThan(0);
  });
});
