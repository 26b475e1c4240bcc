import { describe, expect, it } from "vitest";
import { checkSharingRule, leakFoundWithTrustedCookies } from "../shared/sharing-property.ts";

// The same property runs in Node (tests/core/policy/sharing-property.test.ts).
describe("the sharing rule holds for any headers: workerd", () => {
  it("runs inside workerd, not Node", () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
  });

  it("nothing fetched with credentials reaches another client unless explicitly shareable (property)", () => {
    checkSharingRule(5_000);
  });

  it("the property finds the leak that cache.trustCookies accepts", () => {
    expect(leakFoundWithTrustedCookies(5_000)).toBe(true);
  });
});
