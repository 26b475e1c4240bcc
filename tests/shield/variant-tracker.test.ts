/**
 * The table behind images.limits.maxVariantsPerSource stays within its bound in bytes
 * over all sources, however long the source URLs: the least recently used sources are
 * forgotten first.
 */
import { describe, expect, it } from "vitest";
import { VariantTracker } from "../../origin-shield/image/variants.ts";

describe("VariantTracker", () => {
  it("refuses a new variant beyond the bound per source; made ones and other sources pass", () => {
    const t = new VariantTracker(2, 1024 * 1024);
    expect([t.admit("a", "1"), t.admit("a", "2"), t.admit("a", "3")]).toEqual([true, true, false]);
    expect([t.admit("a", "1"), t.admit("b", "3")]).toEqual([true, true]);
  });

  it("counts every id it holds against its byte bound, ids added later too", () => {
    const t = new VariantTracker(10, 4096);
    for (let i = 1; i <= 9; i++) expect(t.admit("a", `id-${i}`)).toBe(true);
    const before = t.bytes;
    expect(t.admit("a", "id-10")).toBe(true);
    expect(t.bytes).toBeGreaterThan(before);
    expect(t.admit("a", "id-11")).toBe(false);
    // Other sources until the bound is passed: the least recently used one, "a", goes.
    for (let i = 0; i < 50; i++) t.admit(`s${i}`, "1");
    expect(t.bytes).toBeLessThanOrEqual(4096);
    // "a" was forgotten, so a variant beyond its old count is a first one again.
    expect(t.admit("a", "id-11")).toBe(true);
  });

  it("stays within its bytes with sources of 15 KB URLs", () => {
    const t = new VariantTracker(4, 1024 * 1024);
    for (let i = 0; i < 500; i++) t.admit(`https://e.com/${"x".repeat(15_000)}/${i}.jpg`, "w=100");
    expect(t.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(t.bytes).toBeGreaterThan(1024 * 1024 * 0.9);
  });
});
