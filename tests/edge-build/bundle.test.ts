import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const outdir = mkdtempSync(join(tmpdir(), "edge-bundle-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

// What `wrangler deploy` would upload, built the same way (offline, no account needed).
describe("the Worker bundle", () => {
  it("builds with wrangler and stays under 100 KiB gzipped", { timeout: 120_000 }, async () => {
    await promisify(execFile)(
      join(root, "node_modules/.bin/wrangler"),
      ["deploy", "--dry-run", "--minify", "--outdir", outdir],
      { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" } },
    );
    const bundle = readFileSync(join(outdir, "index.js"));
    const gzipped = gzipSync(bundle).length;
    // A namespace import of zod alone once made this 110 KiB (see core/config/zod.ts).
    expect(gzipped).toBeLessThan(100 * 1024);
    // The config schema is in it: the Worker validates CDN_CONFIG itself.
    expect(bundle.toString("utf8")).toContain("CDN_CONFIG");
  });
});
