/**
 * Where the shield's hit path spends its CPU: one shield (as main.ts serves it, pinned
 * to core 1) run under `node --cpu-prof` while wrk (core 0, 64 connections) asks it for a
 * cached object; the profile is summarised as self time by function and by file, in µs
 * per request (total samples × interval ÷ requests).
 *
 *   npx tsx bench/shield-profile.ts [1k|100k|variant] [silent|info|bare] [signed]
 *                                                                      (about 15 s)
 *
 * `signed` gives the shield an edge secret (shield.edgeAuth) and every request the
 * edge's CDN-Edge-Signature, as the edge sends it: the hit path behind the gate
 * (origin-shield/request/edge-auth.ts).
 *
 * `bare` profiles the hit benchmark's baseline instead (bench/lib/serve-bare.ts writing
 * the bytes and header fields of the shield's hit), for a side-by-side reading.
 *
 * BENCH_SECONDS (default 5) sets the profiled run; BENCH_TOP (30) the rows shown. The
 * .cpuprofile is kept under dist/bench/profiles/ for Chrome DevTools or speedscope.
 * BENCH_RATE_LIMIT=origin|all adds a shield.rateLimits rule every request matches, with
 * a bucket too large to empty, counting as it says: the cost of the check on a hit.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { SourceMap } from "node:module";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  EDGE_SIGNATURE_FIELD,
  edgeSigningKey,
  signEdgeRequest,
} from "../core/auth/edge-signature.ts";
import { photoJpeg } from "../tests/helpers/images.ts";
import { patternBody } from "./lib/body.ts";
import { get } from "./lib/http.ts";
import { ROOT, startChild } from "./lib/proc.ts";
import { fail, fixed } from "./lib/table.ts";
import { pinnedLoad } from "./lib/wrk.ts";

const [which = "1k", level = "silent", auth = ""] = process.argv.slice(2);
const SECRET = "bench-edge-secret-0123456789abcdef";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const TOP = Number(process.env.BENCH_TOP ?? 30);

const photo = which === "variant" ? await photoJpeg({ width: 1200, height: 800 }) : null;
const size = which === "100k" ? 100 * 1024 : 1024;
const origin = createServer((req, res) => {
  if (req.url?.startsWith("/photo") && photo !== null) {
    res.writeHead(200, {
      "content-type": "image/jpeg",
      "content-length": String(photo.length),
      "cache-control": "public, max-age=3600",
    });
    res.end(photo);
    return;
  }
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "cache-control": "public, max-age=3600",
    etag: '"bench"',
    "last-modified": "Thu, 01 Jan 2026 00:00:00 GMT",
    "content-length": String(size),
  });
  res.end(patternBody(size));
});
await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const signed = auth === "signed";
const counted = process.env.BENCH_RATE_LIMIT;
const rateLimits =
  counted === "origin" || counted === "all"
    ? [{ name: "bench", ratePerSecond: 1e6, burst: 1e6, count: counted }]
    : [];
const config = JSON.stringify({
  origins: [{ name: "bench", url: originUrl, hosts: ["*"] }],
  shield: { ...(signed ? { edgeAuth: { secret: SECRET } } : {}), rateLimits },
});

const dir = join(ROOT, "dist/bench/profiles", `${which}-${level}-${process.pid}`);
const profFlags = ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-interval", "50"];
const path = which === "variant" ? "/img/width=400,format=webp/photo/a.jpg" : `/obj-${which}`;
// Signed at start: valid for the whole run (shield.edgeAuth.maxAgeSeconds, 60 s).
const headers: Record<string, string> = signed
  ? {
      "x-forwarded-host": "bench.example",
      [EDGE_SIGNATURE_FIELD]: await signEdgeRequest(
        await edgeSigningKey(SECRET),
        { method: "GET", target: path, forwardedHost: "bench.example" },
        Math.floor(Date.now() / 1000),
      ),
    }
  : {};
let shield = await startChild(
  "serve-shield.ts",
  [config, level === "bare" ? "silent" : level],
  level === "bare" ? [] : profFlags,
  { cpu: 1 },
);
await get(shield.url + path, undefined, headers);
let first = await get(shield.url + path, undefined, headers);
if (first.status !== 200 || !String(first.headers["cache-status"]).includes("hit")) {
  fail(`not a hit: ${first.status} ${first.headers["cache-status"]}`);
}
if (level === "bare") {
  const headers: string[] = [];
  for (let i = 0; i < first.rawHeaders.length; i += 2) {
    const name = first.rawHeaders[i]!.toLowerCase();
    if (name !== "connection" && name !== "keep-alive")
      headers.push(name, first.rawHeaders[i + 1]!);
  }
  await shield.stop();
  // serve-bare writes patternBody bytes of the same size (for a variant: other bytes).
  const spec = { [path]: { size: first.body.length, headers } };
  shield = await startChild("serve-bare.ts", [JSON.stringify(spec)], profFlags, { cpu: 1 });
  first = await get(shield.url + path);
}
const expect = {
  status: 200,
  length: first.body.length,
  cacheStatus: "hit",
  rawHeaders: first.rawHeaders,
};
// JIT warm-up, then the profiled run.
await pinnedLoad({
  url: shield.url + path,
  seconds: 2,
  connections: 64,
  pid: shield.pid,
  cpu: 0,
  expect,
  headers,
});
const from = process.hrtime.bigint() / 1000n;
const r = await pinnedLoad({
  url: shield.url + path,
  seconds: SECONDS,
  connections: 64,
  pid: shield.pid,
  cpu: 0,
  expect,
  headers,
});
const to = process.hrtime.bigint() / 1000n;
await shield.stop();
origin.close();

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}
const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
if (file === undefined) fail(`no profile written in ${dir}`);
const prof = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
// Only the samples taken during the profiled run (V8's clock and process.hrtime are
// both CLOCK_MONOTONIC): start-up and warm-up are left out.
const self = new Map<number, number>();
let at = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  at += prof.timeDeltas[i] ?? 0;
  if (at < Number(from) || at > Number(to)) continue;
  const id = prof.samples[i] as number;
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self.entries()]
  .filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)")
  .reduce((a, [, t]) => a + t, 0);
const busy = total - idle;
const short = (url: string) =>
  url
    .replace(/^file:\/\//, "")
    .replace(ROOT, "")
    .replace(/^.*node_modules\//, "npm:");
// The shield runs as an esbuild bundle: positions are mapped back to the sources.
const maps = new Map<string, SourceMap | null>();
const source = (url: string, line: number, column: number): string => {
  let map = maps.get(url);
  if (map === undefined) {
    const file = url.startsWith("file://") ? `${fileURLToPath(url)}.map` : "";
    map = existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, "utf8"))) : null;
    maps.set(url, map);
  }
  const e = map?.findEntry(line, column) as
    | { originalSource?: string; originalLine?: number }
    | undefined;
  if (e?.originalSource === undefined) return `${short(url)}:${line + 1}`;
  const src = e.originalSource.replace(/^.*?\.\.\/\.\.\//, "");
  return `${src}:${(e.originalLine ?? 0) + 1}`;
};
const where = (n: Node) =>
  source(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber);
const fnKey = (n: Node) => `${n.callFrame.functionName || "(anonymous)"}  ${where(n)}`;
const group = (key: (n: Node) => string) => {
  const m = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id);
    if (n === undefined || n.callFrame.functionName === "(idle)") continue;
    const k = key(n);
    m.set(k, (m.get(k) ?? 0) + t);
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
};
const perReq = busy;
console.log(
  `${which} hit, log ${level}: ${r.responses} requests in the profiled run at ${Math.round(r.rps)} req/s, ` +
    `server ${fixed(r.cpuUs)} µs/req (/proc, all threads); profile: ${fixed(perReq / 1e6, 2)} s busy ` +
    `of ${fixed(total / 1e6, 2)} s sampled (main thread, the profiled run)`,
);
const show = (title: string, rows: [string, number][]) => {
  console.log(`\n${title} (share of busy main-thread samples)`);
  for (const [k, t] of rows.slice(0, TOP)) {
    console.log(`${((100 * t) / busy).toFixed(1).padStart(6)} %  ${k}`);
  }
};
show("self time by function", group(fnKey));
// Inclusive: each sample counts once for every distinct function on its stack.
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
for (const [id, t] of self) {
  if (byId.get(id)?.callFrame.functionName === "(idle)") continue;
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const n = byId.get(at);
    if (n === undefined) break;
    const k = fnKey(n);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + t);
  }
}
show(
  "inclusive time by function, the shield's own code",
  [...inclusive.entries()]
    .filter(([k]) => /origin-shield\/|core\/|image-pipeline\//.test(k))
    .sort((a, b) => b[1] - a[1]),
);
show(
  "self time by file",
  group((n) => where(n).replace(/:\d+$/, "") || n.callFrame.functionName),
);
console.log(`\nprofile: ${join(dir, file)}`);
