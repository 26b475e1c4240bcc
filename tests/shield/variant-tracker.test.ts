/**
 * The table behind images.limits.maxVariantsPerSource stays within its bound on variant
 * ids over all sources: the least recently used sources are forgotten first.
 */
import { describe, expect, it } from "vitest";
import { VariantTracker } from "../../origin-shield/image/variants.ts";

describe("VariantTracker", () => {
  it("refuses a new variant beyond the bound per source; made ones and other sources pass", () => {
    const t = new VariantTracker(2);
    expect([t.admit("a", "1"), t.admit("a", "2"), t.admit("a", "3")]).toEqual([true, true, false]);
    expect([t.admit("a", "1"), t.admit("b", "3")]).toEqual([true, true]);
  });

  it("counts every id it holds against its size bound, ids added later too", () => {
    // At most 12 units: a source costs 1 plus one per id.
    const t = new VariantTracker(9, 12);
    for (let i = 1; i <= 9; i++) expect(t.admit("a", String(i))).toBe(true); // 10 units
    expect(t.admit("b", "1")).toBe(true); // 12 units
    expect(t.admit("c", "1")).toBe(true); // 14: the least recently used source, a, goes
    // "a" was forgotten, so its tenth variant is a first one again.
    expect(t.admit("a", "10")).toBe(true);
  });
});
