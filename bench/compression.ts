/**
 * Compression at the shield (origin-shield/compress/), as `npm run shield` runs it (the
 * built shield in a child process pinned to core 1; wrk, and this process with the
 * origin, on core 0):
 *
 *   1. hits: a stored br copy of a 24 KiB HTML page against an identity hit of the same
 *      object, on the same shield, in alternating rounds: shield CPU per hit and req/s.
 *      Target: the br hit at least 0.9× the identity hit's req/s.
 *   2. misses: every request a URL never seen, so each is an origin fetch, a store and,
 *      for a br or gzip client, an encode on the fly at brotliLevel / gzipLevel (and, for
 *      br, the background re-encode at brotliStoredLevel as far as its queue takes it),
 *      against identity misses of the same pages in the same rounds.
 *   3. bytes: what a client is sent for realistic bodies (an HTML page, a JSON listing, a
 *      JavaScript module) in each coding, against the identity size.
 *
 *   npx tsx bench/compression.ts   (about a minute; BENCH_SECONDS 2, BENCH_ROUNDS 3,
 *                                   BENCH_CONNECTIONS 32)
 *
 * Every hit is checked by wrk (status, Content-Length, body length, Cache-Status hit, or
 * by byte count above 16 KiB) and one of each is decoded and compared with the page
 * before and after every run; every miss is checked for status 200, its
 * Content-Encoding and a Cache-Status that says it went forward.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { htmlPage, jsonDocument } from "../tests/shield/compression-support.ts";
import { get } from "./lib/http.ts";
import { type Child, cpuMs, pinProcess, ROOT, startChild } from "./lib/proc.ts";
import { fail, fixed, int, median, printTable, type Row } from "./lib/table.ts";
import { haveWrk, type PinnedLoadResult, pinnedLoad } from "./lib/wrk.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 3));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const TARGET = 0.9;

const bodies: Record<string, { type: string; body: Buffer }> = {
  "/page.html": { type: "text/html; charset=utf-8", body: htmlPage(24) },
  "/api.json": { type: "application/json", body: jsonDocument(64) },
  "/app.js": {
    type: "text/javascript",
    body: readFileSync(join(ROOT, "node_modules/lru-cache/dist/esm/index.js")),
  },
};
const page = bodies["/page.html"]!.body;

let originRequests = 0;
const origin = createServer((req, res) => {
  originRequests++;
  const url = req.url ?? "/";
  const known = bodies[url];
  const { type, body } = known ?? { type: "text/html; charset=utf-8", body: page };
  if (known === undefined && !url.startsWith("/m/")) {
    res.writeHead(404, { "content-length": "0" });
    res.end();
    return;
  }
  res.writeHead(200, {
    "content-type": type,
    "content-length": String(body.length),
    "cache-control": "public, max-age=3600",
    etag: '"b1"',
  });
  res.end(body);
});
await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const config = JSON.stringify({ origins: [{ name: "bench", url: originUrl, hosts: ["*"] }] });

const children: Child[] = [];

function decoded(coding: string | undefined, body: Buffer): Buffer {
  if (coding === "br") return brotliDecompressSync(body);
  if (coding === "gzip") return gunzipSync(body);
  return body;
}

/** One request for `path` with `ae`, decoded and compared with what the origin has. */
async function verify(shield: Child, path: string, ae: string, hit: boolean) {
  const r = await get(shield.url + path, undefined, { "accept-encoding": ae });
  const cs = String(r.headers["cache-status"] ?? "");
  if (r.status !== 200 || (hit && !cs.includes("hit"))) fail(`${path} (${ae}): ${r.status} ${cs}`);
  const coding = r.headers["content-encoding"] as string | undefined;
  const want = ae === "identity" ? undefined : ae;
  if (coding !== want) fail(`${path} (${ae}): content-encoding ${coding}`);
  if (!decoded(coding, r.body).equals(bodies[path]?.body ?? page))
    fail(`${path} (${ae}): wrong bytes`);
  return r;
}

/** Until the stored br copy of `path` is the brotliStoredLevel one. */
async function storedBr(shield: Child, path: string) {
  for (let i = 0; i < 500; i++) {
    const r = await verify(shield, path, "br", i > 0);
    if (String(r.headers.etag).includes("-br11")) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
  return fail(`${path}: the br copy was never re-encoded`);
}

async function hitRun(shield: Child, ae: string): Promise<PinnedLoadResult> {
  const path = "/page.html";
  const one = ae === "br" ? await storedBr(shield, path) : await verify(shield, path, ae, true);
  const r = await pinnedLoad({
    url: shield.url + path,
    seconds: SECONDS,
    connections: CONNECTIONS,
    pid: shield.pid,
    cpu: 0,
    headers: { "accept-encoding": ae },
    expect: {
      status: 200,
      length: one.body.length,
      cacheStatus: "hit",
      contentType: bodies[path]?.type ?? null,
      rawHeaders: one.rawHeaders,
    },
  });
  await verify(shield, path, ae, true);
  return r;
}

interface MissResult {
  readonly rps: number;
  readonly cpuUs: number;
  readonly responses: number;
}

const luaDir = mkdtempSync(join(tmpdir(), "bench-compression-"));
let runs = 0;

/** Closed-loop misses (a new URL each request) with wrk on core 0. */
function missRun(shield: Child, ae: string): Promise<MissResult> {
  const run = runs++;
  const want = ae === "identity" ? "nil" : JSON.stringify(ae);
  const file = join(luaDir, `miss-${run}.lua`);
  writeFileSync(
    file,
    `
wrk.headers["accept-encoding"] = ${JSON.stringify(ae)}
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
first = ""
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", "/m/${run}-" .. n)
end
local function field(h, name)
  for k, x in pairs(h) do if string.lower(k) == name then return x end end
  return nil
end
function response(status, h, body)
  local why = nil
  if status ~= 200 then why = "status " .. status
  elseif field(h, "content-encoding") ~= ${want} then why = "content-encoding " .. tostring(field(h, "content-encoding"))
  elseif not string.find(field(h, "cache-status") or "", "fwd=uri-miss", 1, true) then why = "cache-status " .. tostring(field(h, "cache-status"))
  end
  if why ~= nil then
    bad = bad + 1
    if first == "" then first = why end
  end
end
function done(summary, latency, requests)
  local b = 0
  local f = ""
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    if f == "" then f = t:get("first") end
  end
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"us":%d,"errors":%d,"bad":%d,"first":%q}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout, b, f))
end
`,
  );
  const args = ["-c", "0", "wrk", "-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--timeout", "10s"];
  return new Promise((resolve) => {
    const cpu0 = cpuMs(shield.pid);
    const child = spawn("taskset", [...args, "-s", file, shield.url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.once("exit", () => {
      const cpu = cpuMs(shield.pid) - cpu0;
      const m = /WRK_RESULT (\{.*\})/.exec(out);
      if (m === null) fail(`wrk: ${out.trim()}`);
      const r = JSON.parse(m[1] as string) as {
        requests: number;
        us: number;
        errors: number;
        bad: number;
        first: string;
      };
      if (r.errors > 0 || r.bad > 0 || r.requests === 0) {
        fail(
          `misses (${ae}): ${r.errors} errors, ${r.bad} wrong answers (first: ${r.first || "—"})`,
        );
      }
      resolve({
        rps: r.requests / (r.us / 1e6),
        cpuUs: (cpu * 1000) / r.requests,
        responses: r.requests,
      });
    });
  });
}

const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

async function main(): Promise<void> {
  if (!haveWrk()) fail("wrk and taskset are needed (Debian packages wrk, util-linux)");
  pinProcess(process.pid, "0");
  const shield = await startChild("serve-shield.ts", [config, "silent"], [], { cpu: 1 });
  children.push(shield);

  // Bytes: each body in each coding, the br copy once re-encoded.
  const sizes: Row[] = [];
  for (const [path, { body }] of Object.entries(bodies)) {
    const fast = await verify(shield, path, "br", false);
    const gz = await verify(shield, path, "gzip", false);
    const stored = await storedBr(shield, path);
    const id = await verify(shield, path, "identity", true);
    const name = path.slice(1);
    const row = (figure: string, bytes: number): Row => ({
      figure: `${name} (${int(body.length)} B): ${figure}, bytes sent`,
      value: int(bytes),
      baseline: int(id.body.length),
      ratio: `${(bytes / id.body.length).toFixed(3)}×`,
      target: "—",
    });
    // The level each copy was made at, as its ETag names it ("b1-br5").
    const level = (r: { headers: Record<string, unknown> }) =>
      /-(?:br|gz)(\d+)"$/.exec(String(r.headers.etag))?.[1] ?? "?";
    sizes.push(
      row(`gzip ${level(gz)}`, gz.body.length),
      row(`br ${level(fast)} (miss)`, fast.body.length),
      row(`br ${level(stored)} (stored)`, stored.body.length),
    );
  }
  if (originRequests !== 3) fail(`warming took ${originRequests} origin requests, expected 3`);

  // JIT warm-up of both hit paths and both miss paths.
  await hitRun(shield, "identity");
  await hitRun(shield, "br");
  await missRun(shield, "identity");
  await missRun(shield, "br");

  const hits: Record<string, PinnedLoadResult[]> = { identity: [], br: [] };
  const misses: Record<string, MissResult[]> = { identity: [], br: [], gzip: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ["identity", "br"] : ["br", "identity"];
    for (const ae of order) {
      const r = await hitRun(shield, ae);
      hits[ae]!.push(r);
      process.stderr.write(
        `  round ${round + 1} hit  ${ae.padEnd(8)} ${int(r.rps).padStart(7)} req/s, shield ${fixed(r.cpuUs)} µs/req (others ${r.otherPct}%)\n`,
      );
    }
    const missOrder = round % 2 === 0 ? ["identity", "br", "gzip"] : ["gzip", "br", "identity"];
    for (const ae of missOrder) {
      const r = await missRun(shield, ae);
      misses[ae]!.push(r);
      process.stderr.write(
        `  round ${round + 1} miss ${ae.padEnd(8)} ${int(r.rps).padStart(7)} req/s, shield ${fixed(r.cpuUs)} µs/req\n`,
      );
    }
  }

  const ratios = <T>(xs: T[], ys: T[], f: (x: T) => number) => xs.map((x, i) => f(x) / f(ys[i]!));
  const hitRps = ratios(hits.br!, hits.identity!, (x) => x.rps);
  const hitCpu = ratios(hits.br!, hits.identity!, (x) => x.cpuUs);
  const rows: Row[] = [
    {
      figure: `br hit, req/s (spread ${spread(hitRps)})`,
      value: int(median(hits.br!.map((x) => x.rps))),
      baseline: int(median(hits.identity!.map((x) => x.rps))),
      ratio: `${median(hitRps).toFixed(2)}×`,
      target: `≥ ${TARGET.toFixed(2)}×`,
      pass: median(hitRps) >= TARGET,
    },
    {
      figure: `br hit, shield CPU µs/req (spread ${spread(hitCpu)})`,
      value: fixed(median(hits.br!.map((x) => x.cpuUs))),
      baseline: fixed(median(hits.identity!.map((x) => x.cpuUs))),
      ratio: `${median(hitCpu).toFixed(2)}×`,
      target: "—",
    },
  ];
  for (const ae of ["br", "gzip"]) {
    const rps = ratios(misses[ae]!, misses.identity!, (x) => x.rps);
    const cpu = ratios(misses[ae]!, misses.identity!, (x) => x.cpuUs);
    rows.push(
      {
        figure: `${ae} miss (encoded on the fly), req/s (spread ${spread(rps)})`,
        value: int(median(misses[ae]!.map((x) => x.rps))),
        baseline: int(median(misses.identity!.map((x) => x.rps))),
        ratio: `${median(rps).toFixed(2)}×`,
        target: "—",
      },
      {
        figure: `${ae} miss, shield CPU µs/req (spread ${spread(cpu)})`,
        value: fixed(median(misses[ae]!.map((x) => x.cpuUs))),
        baseline: fixed(median(misses.identity!.map((x) => x.cpuUs))),
        ratio: `${median(cpu).toFixed(2)}×`,
        target: "—",
      },
    );
  }
  printTable(
    `compression at the shield: hits of a stored br copy and misses encoded on the fly, each beside ` +
      `identity in the same rounds (median of ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections, ` +
      `wrk on core 0, the shield on core 1; ${int(page.length)} B HTML page; Node ${process.version})`,
    rows,
  );
  printTable("bytes sent per coding (baseline: the identity body)", sizes);
  process.exitCode = rows.every((r) => r.pass !== false) ? 0 : 1;
}

try {
  await main();
} finally {
  for (const c of children) await c.stop();
  origin.closeAllConnections();
  origin.close();
}
