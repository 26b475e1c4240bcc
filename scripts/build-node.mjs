// Builds a Node entry point (TypeScript) into one ES module under dist/, with esbuild.
//
// Why not run the TypeScript through tsx: tsx compiles with esbuild's keepNames, which
// wraps every function expression in a `__name(fn, "name")` call (an
// Object.defineProperty, about 250 ns each); on the shield's hit path, which makes a few
// closures per request, that is several percent of the whole request. Its loader also
// adds about 60 MiB of resident memory. A bundle without keepNames has neither; packages
// stay external (loaded from node_modules as usual). Building takes well under a second.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * @param {string} entry path of the .ts entry, relative to the repository root
 * @param {string} outfile path of the .mjs to write, relative to the repository root
 * @returns {Promise<string>} the absolute path of the written module
 */
export async function buildNode(entry, outfile) {
  const out = resolve(ROOT, outfile);
  await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: true,
    logLevel: "warning",
  });
  return out;
}

// As a command: node scripts/build-node.mjs <entry.ts> <out.mjs>
// (When this module is bundled into another program, import.meta.url is that program's.)
const self = fileURLToPath(import.meta.url);
if (self.endsWith("build-node.mjs") && resolve(process.argv[1] ?? "") === self) {
  const [entry, outfile] = process.argv.slice(2);
  if (entry === undefined || outfile === undefined) {
    process.stderr.write("usage: node scripts/build-node.mjs <entry.ts> <out.mjs>\n");
    process.exit(2);
  }
  await buildNode(entry, outfile);
}
