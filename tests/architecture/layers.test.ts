/**
 * The house's structure, checked by dpdm (a maintained dependency-graph tool): no import
 * circle anywhere, type-only imports included, and each layer imports only the layers
 * beneath it (docs/ARCHITECTURE.md draws them).
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type DependencyTree, parseCircular, parseDependencyTree } from "dpdm";
import { beforeAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SOURCES = [
  "core/**/*.ts",
  "workers/**/*.ts",
  "origin-shield/**/*.ts",
  "image-pipeline/**/*.ts",
  "bench/**/*.ts",
  "scripts/**/*.ts",
];

let tree: DependencyTree;

beforeAll(async () => {
  tree = await parseDependencyTree(SOURCES, {
    context: root,
    cwd: root,
    transform: false, // type-only imports count: a circle of types is still a circle
    skipDynamicImports: false,
    tsconfig: resolve(root, "tsconfig.json"),
  });
}, 60_000);

/** Every project file's imports of other project files, as paths from the root. */
function edges(): [string, string][] {
  const out: [string, string][] = [];
  for (const [file, deps] of Object.entries(tree)) {
    for (const dep of deps ?? []) {
      if (dep.id === null || dep.id.includes("node_modules")) continue;
      out.push([file, dep.id]);
    }
  }
  return out;
}

/**
 * The shield's layers, top to bottom. A file may import from its own layer's folder and
 * from any layer below it, never from one above.
 */
const SHIELD_LAYERS: readonly (readonly string[])[] = [
  ["origin-shield/main.ts", "origin-shield/cli.ts", "origin-shield/transport/server.ts"],
  ["origin-shield/app.ts"],
  ["origin-shield/transport/", "origin-shield/admin/"],
  ["origin-shield/compose.ts"],
  ["origin-shield/context.ts"],
  ["origin-shield/image/", "origin-shield/compress/"],
  ["origin-shield/cache/", "origin-shield/pass/", "origin-shield/request/", "origin-shield/limit/"],
  ["origin-shield/origin/fetcher.ts"],
  ["origin-shield/collapse/"],
  ["origin-shield/respond.ts", "origin-shield/rejection.ts"],
  ["origin-shield/store/", "origin-shield/origin/", "origin-shield/observe/"],
  ["origin-shield/cluster/"],
  ["origin-shield/types.ts"],
  ["origin-shield/http/"],
];

function layerOf(file: string): number {
  // The longest matching entry decides (origin/fetcher.ts sits above origin/).
  let best = -1;
  let length = 0;
  SHIELD_LAYERS.forEach((entries, i) => {
    for (const e of entries) {
      if (file.startsWith(e) && e.length > length) {
        best = i;
        length = e.length;
      }
    }
  });
  return best;
}

describe("the structure of the house", () => {
  it("has no import circle, type-only imports included", () => {
    expect(Object.keys(tree).length).toBeGreaterThan(150);
    expect(parseCircular(tree)).toEqual([]);
  });

  it("every shield file belongs to a layer", () => {
    const unplaced = Object.keys(tree).filter(
      (f) => f.startsWith("origin-shield/") && layerOf(f) < 0,
    );
    expect(unplaced).toEqual([]);
  });

  it("shield layers import only downwards", () => {
    const upward = edges()
      .filter(([from, to]) => from.startsWith("origin-shield/") && to.startsWith("origin-shield/"))
      .filter(([from, to]) => layerOf(to) < layerOf(from))
      .map(([from, to]) => `${from} -> ${to}`);
    expect(upward).toEqual([]);
  });

  it("the cache path, collapsing and storage know nothing of images", () => {
    const generic = ["origin-shield/cache/", "origin-shield/collapse/", "origin-shield/store/"];
    const imageAware = edges()
      .filter(([from]) => generic.some((g) => from.startsWith(g)))
      .filter(([, to]) => to.startsWith("origin-shield/image/") || to.startsWith("image-pipeline/"))
      .map(([from, to]) => `${from} -> ${to}`);
    expect(imageAware).toEqual([]);
  });

  it("core imports only core; the edge never imports the shield or sharp", () => {
    const wrong = edges()
      .filter(
        ([from, to]) =>
          (from.startsWith("core/") && !to.startsWith("core/")) ||
          (from.startsWith("workers/") &&
            (to.startsWith("origin-shield/") || to.startsWith("image-pipeline/"))) ||
          (from.startsWith("image-pipeline/") && to.startsWith("origin-shield/")),
      )
      .map(([from, to]) => `${from} -> ${to}`);
    expect(wrong).toEqual([]);
  });
});
