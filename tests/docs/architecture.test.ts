import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const doc = readFileSync(resolve(root, "docs/ARCHITECTURE.md"), "utf8");

describe("docs/ARCHITECTURE.md stays true", () => {
  it("every file and folder it names exists", () => {
    const named = [
      ...doc.matchAll(/`((?:core|workers|origin-shield|image-pipeline|tests)\/[^`\s]*)`/g),
    ].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(40);
    expect(named.filter((path) => !existsSync(resolve(root, path)))).toEqual([]);
  });

  it("names every folder of the shield", () => {
    const folders = readdirSync(resolve(root, "origin-shield"), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect(folders.length).toBeGreaterThan(8);
    for (const f of folders) expect(doc, f).toContain(`origin-shield/${f}/`);
  });
});
