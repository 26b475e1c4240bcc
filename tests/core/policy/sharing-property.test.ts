import { describe, expect, it } from "vitest";
import { checkSharingRule, leakFoundWithTrustedCookies } from "../../shared/sharing-property.ts";

// The same property runs in workerd (tests/workers/sharing-property.test.ts).
describe("the sharing rule holds for any headers: Node", () => {
  it("nothing fetched with credentials reaches another client unless explicitly shareable (property)", () => {
    checkSharingRule(20_000);
  });

  it("the property finds the leak that cache.trustCookies accepts", () => {
    expect(leakFoundWithTrustedCookies(20_000)).toBe(true);
  });
});
