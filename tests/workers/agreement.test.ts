import { describe, expect, it } from "vitest";
import { agreementCases } from "../shared/agreement.ts";

// The same table runs in Node (tests/core/agreement.test.ts).
describe("core agrees with itself across runtimes: workerd", () => {
  it("runs inside workerd, not Node", () => {
    // workerd identifies itself; Node would say "Node.js".
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
  });

  it.each(agreementCases)("$name", async ({ run, expected }) => {
    expect(await run()).toEqual(expected);
  });
});
