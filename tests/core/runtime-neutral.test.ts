import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// core/ is imported by both the Worker (workerd) and the shield (Node): it may use
// web-standard globals only. The Worker (workers/) runs in workerd, and so does every
// file it imports from elsewhere, transitively: none of them may use Node's modules or
// globals. This test fails the build if that ever stops being true.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const coreDir = join(root, "core");
const workersDir = join(root, "workers");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Packages core (and anything the edge imports) may use: pure JavaScript, no runtime imports. */
const CORE_PACKAGES: ReadonlySet<string> = new Set(["zod", "structured-headers", "@noble/hashes"]);
/**
 * The Worker's own files may use Hono as well, and lru-cache (pure JavaScript, guarded
 * against a missing `process`), which workers/cache/isolate-cache.ts uses.
 */
const EDGE_PACKAGES: ReadonlySet<string> = new Set([...CORE_PACKAGES, "hono", "lru-cache"]);
const NODE_BUILTINS = new Set(builtinModules);
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|[\s;])import\s*["']([^"']+)["']/g;
const NODE_GLOBALS: readonly [RegExp, string][] = [
  [/\bprocess\.\w/, "process (Node global)"],
  [/\bBuffer\b/, "Buffer (Node global)"],
  [/\brequire\(/, "require (CommonJS)"],
  [/\b__dirname\b|\b__filename\b/, "__dirname/__filename (Node globals)"],
];
const CORE_GLOBALS: readonly [RegExp, string][] = [
  ...NODE_GLOBALS,
  [/\bDate\.now\(|new Date\(\)/, "reading the clock (pass `now` in instead)"],
  [/\bMath\.random\(/, "Math.random (policy must be deterministic)"],
];

/** What a file may import and use, by where it is. */
interface Rules {
  readonly packages: ReadonlySet<string>;
  /** Relative imports must stay inside this directory (null: anywhere, and are followed). */
  readonly within: string | null;
  readonly globals: readonly [RegExp, string][];
  /** `cloudflare:` modules (the Worker's own files only). */
  readonly cloudflare: boolean;
}

const CORE: Rules = {
  packages: CORE_PACKAGES,
  within: coreDir,
  globals: CORE_GLOBALS,
  cloudflare: false,
};
/** A file outside core/ and workers/ that the Worker imports. */
const EDGE_IMPORTED: Rules = {
  packages: CORE_PACKAGES,
  within: null,
  globals: NODE_GLOBALS,
  cloudflare: false,
};
const EDGE: Rules = {
  packages: EDGE_PACKAGES,
  within: null,
  globals: NODE_GLOBALS,
  cloudflare: true,
};

function inside(dir: string, file: string): boolean {
  return !relative(dir, file).startsWith("..");
}

function rulesFor(file: string): Rules {
  if (inside(coreDir, file)) return CORE;
  if (inside(workersDir, file)) return EDGE;
  return EDGE_IMPORTED;
}

/** Strip comments so that prose mentioning a global does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

function specifiers(text: string): string[] {
  return [...code(text).matchAll(SPECIFIER)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** "@scope/name/sub" → "@scope/name"; "name/sub" → "name". */
function packageOf(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

function violations(file: string, text: string, rules: Rules = rulesFor(file)): string[] {
  const out: string[] = [];
  for (const spec of specifiers(text)) {
    if (spec.startsWith(".")) {
      const target = resolve(dirname(file), spec);
      if (rules.within !== null && !inside(rules.within, target)) {
        out.push(`imports ${spec} from outside ${relative(root, rules.within)}/`);
      }
    } else if (spec.startsWith("cloudflare:")) {
      if (!rules.cloudflare) out.push(`imports runtime-specific module ${spec}`);
    } else if (spec.startsWith("node:") || NODE_BUILTINS.has(spec)) {
      out.push(`imports runtime-specific module ${spec}`);
    } else if (!rules.packages.has(packageOf(spec))) {
      out.push(`imports package ${spec}, not on the allow-list`);
    }
  }
  const body = code(text);
  for (const [pattern, what] of rules.globals) {
    if (pattern.test(body)) out.push(`uses ${what}`);
  }
  return out;
}

/**
 * Every file reachable from `entries` through relative imports, entries included: what
 * the Worker's bundle is made of (packages aside, which the allow-list covers).
 */
function reachable(entries: readonly string[], read: (file: string) => string | null): string[] {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = read(file);
    if (text === null) continue;
    for (const spec of specifiers(text)) {
      if (spec.startsWith(".")) queue.push(resolve(dirname(file), spec));
    }
  }
  return [...seen].sort();
}

const readSource = (file: string): string | null =>
  existsSync(file) ? readFileSync(file, "utf8") : null;

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
    ['import "../../origin-shield/app.ts";', "from outside core/"],
    ['import pino from "pino";', "not on the allow-list"],
    ['import { Hono } from "hono";', "not on the allow-list"],
    ['import { sha256 } from "@noble/curves/ed25519.js";', "not on the allow-list"],
    ["const t = Date.now();", "reading the clock"],
    ["const b = Buffer.from('x');", "Buffer"],
    ["if (process.env.X) {}", "process"],
  ])("the check rejects %s", (line, message) => {
    const found = violations(join(coreDir, "http", "x.ts"), line);
    expect(found.join("\n")).toContain(message);
  });

  it.each([
    'import { z } from "zod";',
    'import { sha256 } from "@noble/hashes/sha2.js";',
    'import { parseDictionary } from "structured-headers";',
    'export * from "./y.ts";',
  ])("the check allows %s", (line) => {
    expect(violations(join(coreDir, "http", "x.ts"), line)).toEqual([]);
  });

  it("the check ignores prose in comments", () => {
    expect(
      violations(join(coreDir, "x.ts"), "// never call Date.now() here\n/* Buffer */"),
    ).toEqual([]);
  });
});

describe("everything the Worker imports is free of Node", () => {
  const edgeFiles = sources(workersDir);
  const all = reachable(edgeFiles, readSource);
  const imported = all.filter((f) => !inside(workersDir, f));

  it("follows the Worker's imports into core/", () => {
    expect(imported).toContain(join(coreDir, "policy", "index.ts"));
    expect(imported).toContain(join(coreDir, "policy", "decide.ts"));
  });

  it.each(imported.map((f) => [relative(root, f), f]))(
    "%s (imported by the Worker) exists and uses nothing of Node",
    (_, file) => {
      const text = readSource(file);
      expect(text, `${relative(root, file)} is missing`).not.toBeNull();
      expect(violations(file, text ?? "")).toEqual([]);
    },
  );

  it.each(edgeFiles.map((f) => [relative(root, f), f]))("%s uses nothing of Node", (_, file) => {
    expect(violations(file, readFileSync(file, "utf8"))).toEqual([]);
  });

  it.each([
    ['import { Hono } from "hono";', []],
    ['import { DurableObject } from "cloudflare:workers";', []],
    ["const now = Date.now();", []],
    ['import { createHash } from "node:crypto";', ["runtime-specific module node:crypto"]],
    ['import pino from "pino";', ["not on the allow-list"]],
    ["const b = Buffer.from('x');", ["Buffer"]],
  ] as const)("in a Worker file, the check on %s", (line, expected) => {
    const found = violations(join(workersDir, "flow", "x.ts"), line).join("\n");
    if (expected.length === 0) expect(found).toBe("");
    for (const message of expected) expect(found).toContain(message);
  });

  it("a file outside core/ that the Worker imports may not use Hono, Node or its packages", () => {
    const file = join(root, "image-pipeline", "x.ts");
    expect(violations(file, 'import { Hono } from "hono";').join()).toContain("allow-list");
    expect(violations(file, 'import sharp from "sharp";').join()).toContain("allow-list");
    expect(violations(file, 'import { LRUCache } from "lru-cache";').join()).toContain(
      "allow-list",
    );
    expect(violations(file, 'import { x } from "node:zlib";').join()).toContain("node:zlib");
    expect(violations(file, "process.exit(1);").join()).toContain("process");
  });

  it("imports are followed transitively, out of workers/ and onwards", () => {
    const files: Record<string, string> = {
      [join(workersDir, "a.ts")]: 'import { b } from "../lib/b.ts";',
      [join(root, "lib", "b.ts")]: 'export { c } from "./deep/c.ts";',
      [join(root, "lib", "deep", "c.ts")]: 'import { readFileSync } from "node:fs";',
      [join(root, "lib", "unused.ts")]: 'import "node:fs";',
    };
    const found = reachable([join(workersDir, "a.ts")], (f) => files[f] ?? null);
    expect(found.map((f) => relative(root, f).split(sep).join("/"))).toEqual([
      "lib/b.ts",
      "lib/deep/c.ts",
      "workers/a.ts",
    ]);
    const deep = join(root, "lib", "deep", "c.ts");
    expect(violations(deep, files[deep]!)).toEqual(["imports runtime-specific module node:fs"]);
  });
});
