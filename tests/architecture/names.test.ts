/**
 * Names a newcomer can read: no exported function or public method of the runtime code
 * takes a single-letter parameter, and each concept has one name across both runtimes.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FOLDERS = ["core", "workers", "origin-shield", "image-pipeline"];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

const files = FOLDERS.flatMap((f) => sources(join(root, f))).map((path) => ({
  path: relative(root, path),
  text: readFileSync(path, "utf8"),
}));

/** The parameter list that starts at `from` (just after its opening parenthesis). */
function parameterList(text: string, from: number): string {
  let depth = 1;
  let at = from;
  while (depth > 0 && at < text.length) {
    const c = text[at];
    if (c === "(" || c === "[" || c === "{" || c === "<") depth++;
    else if (c === ")" || c === "]" || c === "}" || c === ">") depth--;
    at++;
  }
  return text.slice(from, at - 1);
}

/** Top-level parameter names of a list (destructured ones have no name to check). */
function parameterNames(list: string): string[] {
  return [...list.matchAll(/(?:^|,)\s*(?:readonly\s+|public\s+|private\s+)?(\w+)\??\s*:/g)].map(
    (m) => m[1] as string,
  );
}

describe("names", () => {
  it("no exported function or public method takes a single-letter parameter", () => {
    const found: string[] = [];
    const exported = /export (?:async )?function\s+(\w+)\s*(?:<[^>]*>)?\(/g;
    const method = /\n {2}(?:async |static |get |set )*([a-z]\w*)\(/g;
    for (const { path, text } of files) {
      for (const pattern of [exported, method]) {
        for (const m of text.matchAll(pattern)) {
          const name = m[1] as string;
          if (["if", "for", "while", "switch", "catch", "function"].includes(name)) continue;
          const short = parameterNames(parameterList(text, (m.index ?? 0) + m[0].length));
          const single = short.filter((n) => n.length === 1);
          if (single.length > 0) found.push(`${path}: ${name}(${single.join(", ")})`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  it("each of these concepts is defined once, under one name, across both runtimes", () => {
    const definitions = (name: string) =>
      files
        .filter(({ text }) =>
          new RegExp(`(?:function|class|const|interface|type)\\s+${name}\\b`).test(text),
        )
        .map(({ path }) => path);
    for (const name of [
      "variantId",
      "forwardHeaders",
      "imageRequest",
      "MemoryTier",
      "connectionTokens",
    ]) {
      expect(definitions(name).length, name).toBeLessThanOrEqual(1);
    }
  });
});
