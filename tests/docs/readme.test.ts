import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { withReference } from "../../scripts/config-reference.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const readme = readFileSync(resolve(root, "README.md"), "utf8");
const pkg = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
};

describe("the README stays true", () => {
  it("documents every config field, exactly as the schema defines it (npm run docs:config)", () => {
    expect(withReference(readme)).toBe(readme);
  });

  it("its example configuration is valid", () => {
    const start = readme.indexOf("```json", readme.indexOf("## Configuration"));
    const end = readme.indexOf("```", start + 7);
    const config = parseConfig(JSON.parse(readme.slice(start + 7, end)));
    expect(config.rules.map((r) => r.name)).toEqual(["assets", "api", "errors"]);
  });

  it("names every npm script", () => {
    for (const name of Object.keys(pkg.scripts)) {
      expect(readme, `script ${name}`).toContain(
        name === "start" || name === "test" ? `npm ${name}` : `npm run ${name}`,
      );
    }
  });

  it("lists every top-level folder of the tree in its layout", () => {
    const tracked = execFileSync(
      "git",
      ["ls-files", "--cached", "--others", "--exclude-standard"],
      {
        cwd: root,
        encoding: "utf8",
      },
    );
    const folders = new Set(
      tracked
        .split("\n")
        .filter((f) => f.includes("/"))
        .map((f) => f.split("/")[0]!),
    );
    const layout = readme.slice(readme.indexOf("## Layout"), readme.indexOf("## Tests"));
    for (const folder of folders) expect(layout, `folder ${folder}`).toContain(`${folder}/`);
  });

  it("quick start gives the same test command CI runs", () => {
    const ci = readFileSync(resolve(root, ".ci/run"), "utf8");
    expect(ci).toMatch(/^npm test$/m);
    expect(readme).toMatch(/^npm test\b/m);
  });
});
