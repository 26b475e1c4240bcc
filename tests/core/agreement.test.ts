import { describe, expect, it } from "vitest";
import { agreementCases } from "../shared/agreement.ts";

// The same table runs in workerd (tests/workers/agreement.test.ts).
describe("core agrees with itself across runtimes: Node", () => {
  it.each(agreementCases)("$name", async ({ run, expected }) => {
    expect(await run()).toEqual(expected);
  });
});
