import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// core/ is imported by both the Worker (workerd) and the shield (Node): it may use
// web-standard globals only. This test fails the build if that ever stops being true.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const coreDir = join(root, "core");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Packages core may import: pure JavaScript with no runtime-specific imports. */
const ALLOWED_PACKAGES = new Set(["zod"]);
const NODE_BUILTINS = new Set(builtinModules);
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
const FORBIDDEN_GLOBALS: [RegExp, string][] = [
  [/\bprocess\.\w/, "process (Node global)"],
  [/\bBuffer\b/, "Buffer (Node global)"],
  [/\brequire\(/, "require (CommonJS)"],
  [/\b__dirname\b|\b__filename\b/, "__dirname/__filename (Node globals)"],
  [/\bDate\.now\(|new Date\(\)/, "reading the clock (pass `now` in instead)"],
  [/\bMath\.random\(/, "Math.random (policy must be deterministic)"],
];

/** Strip comments so that prose mentioning a global does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

function violations(file: string, text: string): string[] {
  const out: string[] = [];
  const body = code(text);
  for (const m of body.matchAll(SPECIFIER)) {
    const spec = (m[1] ?? m[2])!;
    if (spec.startsWith(".")) {
      const target = resolve(dirname(file), spec);
      if (relative(coreDir, target).startsWith(".."))
        out.push(`imports ${spec} from outside core/`);
    } else if (
      spec.startsWith("node:") ||
      spec.startsWith("cloudflare:") ||
      NODE_BUILTINS.has(spec)
    ) {
      out.push(`imports runtime-specific module ${spec}`);
    } else if (!ALLOWED_PACKAGES.has(spec.split("/")[0]!)) {
      out.push(`imports package ${spec}, not on core's allow-list`);
    }
  }
  for (const [pattern, what] of FORBIDDEN_GLOBALS) {
    if (pattern.test(body)) out.push(`uses ${what}`);
  }
  return out;
}

describe("core/ is runtime-neutral", () => {
  const files = sources(coreDir);

  it("has source files to check", () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(files.map((f) => [relative(root, f), f]))(
    "%s imports nothing runtime-specific",
    (_, file) => {
      expect(violations(file, readFileSync(file, "utf8"))).toEqual([]);
    },
  );

  // The checker itself must catch what it is meant to catch.
  it.each([
    ['import { readFile } from "node:fs";', "runtime-specific module node:fs"],
    ['import crypto from "crypto";', "runtime-specific module crypto"],
    ['export { connect } from "cloudflare:sockets";', "runtime-specific module cloudflare:sockets"],
    ['import { x } from "../../origin-shield/app.ts";', "from outside core/"],
    ['import pino from "pino";', "not on core's allow-list"],
    ["const t = Date.now();", "reading the clock"],
    ["const b = Buffer.from('x');", "Buffer"],
    ["if (process.env.X) {}", "process"],
  ])("the check rejects %s", (line, message) => {
    const found = violations(join(coreDir, "http", "x.ts"), line);
    expect(found.join("\n")).toContain(message);
  });

  it("the check ignores prose in comments", () => {
    expect(
      violations(join(coreDir, "x.ts"), "// never call Date.now() here\n/* Buffer */"),
    ).toEqual([]);
  });
});
