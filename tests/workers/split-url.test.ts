import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitSerialisedUrl } from "../../core/key/split-url.ts";
import { trickyUrl, viaParser } from "../shared/tricky-urls.ts";

// The edge splits Request.url without parsing it; that is only right if workerd's own URL
// parser would give the same parts (the same check runs against Node's in tests/core/key).
describe("splitSerialisedUrl agrees with workerd's URL parser", () => {
  it("whenever it answers (property)", () => {
    let answered = 0;
    fc.assert(
      fc.property(trickyUrl, (s) => {
        const fast = splitSerialisedUrl(s);
        if (fast === null) return;
        answered++;
        expect(fast).toEqual(viaParser(s));
      }),
      { numRuns: 5_000 },
    );
    expect(answered).toBeGreaterThan(100);
  });
});
