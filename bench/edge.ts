/**
 * The edge's hit path under Miniflare (the real workerd runtime, as `wrangler dev` runs
 * it): requests per second for a cached 1 KiB object, beside a pass-through Worker that
 * returns the same bytes from memory, measured in the same run on loopback with
 * autocannon; and the Worker's bundle size as `wrangler deploy` would upload it.
 *
 *   npx tsx bench/edge.ts [--duration 10] [--connections 32] [--rounds 4]   (about 90 s)
 *
 * Targets: hit throughput at least 0.8× the pass-through Worker's; bundle
 * under 100 KiB gzipped. Each round measures both Workers one after the other, in
 * alternating order (A B, B A, …), so a machine whose speed drifts affects both alike;
 * the table shows every round, and the summary the median ratio and the worst.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";

interface AutocannonResult {
  readonly requests: { readonly average: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    rounds: { type: "string", default: "4" },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const rounds = Number(values.rounds);

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BODY = Buffer.alloc(1024, "x");
const COMPATIBILITY_DATE = "2026-04-20";

/** Build the Worker exactly as `wrangler deploy` would upload it. */
function buildWorker(outdir: string): { script: string; gzipBytes: number; bytes: number } {
  execFileSync(
    join(root, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--minify", "--outdir", outdir],
    {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      stdio: "ignore",
    },
  );
  const bundle = readFileSync(join(outdir, "index.js"));
  return {
    script: bundle.toString("utf8"),
    gzipBytes: gzipSync(bundle).length,
    bytes: bundle.length,
  };
}

/** The origin: answers the object once (the edge stores it for an hour). */
async function startOrigin(): Promise<{ url: string; hits: () => number; close: () => void }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(BODY.length),
      "cache-control": "public, max-age=3600",
      etag: '"bench"',
    });
    res.end(BODY);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits, close: () => server.close() };
}

/** A Worker that returns the same bytes from memory: the runtime's own ceiling. */
const PASS_THROUGH = `
const body = new Uint8Array(${BODY.length}).fill(${"x".charCodeAt(0)});
export default {
  fetch() {
    return new Response(body, {
      headers: { "content-type": "application/octet-stream", "cache-control": "public, max-age=3600" },
    });
  },
};`;

async function run(url: string): Promise<AutocannonResult> {
  return autocannon({ url, connections, duration, headers: { accept: "*/*" } });
}

async function main(): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), "edge-bench-"));
  const origin = await startOrigin();
  const built = buildWorker(outdir);
  const config = {
    origins: [{ name: "bench", url: origin.url, hosts: ["127.0.0.1", "localhost"] }],
  };
  const edge = new Miniflare({
    name: "edge",
    modules: [{ type: "ESModule", path: "index.js", contents: built.script }],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { CDN_CONFIG: JSON.stringify(config), SHIELD_NODES: "" },
    host: "127.0.0.1",
    port: 0,
    cf: false,
  });
  const baseline = new Miniflare({
    name: "pass-through",
    modules: [{ type: "ESModule", path: "index.js", contents: PASS_THROUGH }],
    compatibilityDate: COMPATIBILITY_DATE,
    host: "127.0.0.1",
    port: 0,
    cf: false,
  });
  try {
    const edgeUrl = `${(await edge.ready).origin}/bench/object.bin`;
    const baseUrl = `${(await baseline.ready).origin}/bench/object.bin`;

    // Fill the edge's cache, and check that what is measured is a hit.
    await (await fetch(edgeUrl)).arrayBuffer();
    const check = await fetch(edgeUrl);
    const body = Buffer.from(await check.arrayBuffer());
    const status = check.headers.get("cache-status") ?? "";
    if (!status.startsWith("edge; hit") || !body.equals(BODY)) {
      throw new Error(`the edge does not serve a hit (Cache-Status: ${status})`);
    }
    await run(baseUrl); // warm-up, not reported
    await run(edgeUrl);

    const rows: string[][] = [];
    const ratios: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      let base: AutocannonResult;
      let hit: AutocannonResult;
      if (r % 2 === 1) {
        base = await run(baseUrl);
        hit = await run(edgeUrl);
      } else {
        hit = await run(edgeUrl);
        base = await run(baseUrl);
      }
      const ratio = hit.requests.average / base.requests.average;
      ratios.push(ratio);
      for (const [name, res] of [
        ["pass-through Worker (baseline)", base],
        ["edge hit, 1 KiB", hit],
      ] as const) {
        const failures = res.non2xx + res.errors + res.timeouts;
        rows.push([
          String(r),
          name,
          Math.round(res.requests.average).toLocaleString("en"),
          `${res.latency.p50} / ${res.latency.p99}`,
          String(failures),
        ]);
      }
      rows.push(["", "ratio (target ≥ 0.80)", ratio.toFixed(2), "", ""]);
    }
    if (origin.hits() !== 1)
      throw new Error(`the origin was asked ${origin.hits()} times, not once`);

    const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    console.log(
      `\nEdge hit path under Miniflare (workerd), ${connections} connections, ${duration} s per run, loopback\n`,
    );
    table(["round", "server", "req/s", "p50 / p99 ms", "failed"], rows);
    console.log("");
    table(
      ["bundle (wrangler deploy --dry-run --minify)", "size", "target"],
      [
        ["Worker, minified", kib(built.bytes), ""],
        ["Worker, gzipped", kib(built.gzipBytes), "< 100 KiB"],
      ],
    );
    const sorted = [...ratios].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    console.log(
      `\nhit / pass-through: median ${median.toFixed(2)}, worst ${sorted[0]!.toFixed(2)} ` +
        `(target ≥ 0.80); bundle ${kib(built.gzipBytes)} gzipped (target < 100 KiB)`,
    );
  } finally {
    await Promise.allSettled([edge.dispose(), baseline.dispose()]);
    origin.close();
    rmSync(outdir, { recursive: true, force: true });
  }
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

await main();
