/**
 * Closed-loop HTTP load for the shield benchmarks with the load generator and the server
 * each pinned to one core: wrk (`taskset -c <cpu> wrk -t1`) when it is installed, else
 * autocannon in a child process of its own pinned the same way (bench/lib/cannon.ts),
 * so the load generator never shares this process's or the server's core.
 *
 * Every response is checked. For bodies up to HOOK_MAX_BYTES wrk runs a Lua `response()`
 * hook that counts answers whose status, Content-Length, body length, Cache-Status or
 * Content-Type differ from what is expected. The hook makes wrk parse every header and
 * copy every body into a Lua string, which at 100 KiB costs it a quarter more CPU than
 * the server spends (and the generator would be the limit), so a larger body is checked
 * by count instead: the bytes wrk read must be exactly requests × the size of one
 * validated response (within the few bytes an Age value may grow by); with the parser's
 * framing by Content-Length, a body or head of any other size cannot pass. Socket
 * errors, timeouts and non-2xx/3xx fail the run in both cases. The server's CPU time per
 * response comes from /proc (user + system, all threads), sampled around the run.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildNode } from "../../scripts/build-node.mjs";
import { cpuMs, ROOT } from "./proc.ts";
import { fail } from "./table.ts";

export interface Expect {
  readonly status: number;
  /** The exact Content-Length, also checked against the body received. */
  readonly length: number;
  /** A substring every Cache-Status must contain ("hit"), or null for no check. */
  readonly cacheStatus: string | null;
  /** The exact Content-Type, or null for no check. */
  readonly contentType?: string | null;
  /**
   * The raw header list of one validated response (as node:http's `rawHeaders`): its
   * size on the wire is what every answer must match when bodies are checked by count.
   */
  readonly rawHeaders: readonly string[];
}

/** Largest body checked answer by answer in Lua; larger ones are checked by count. */
const HOOK_MAX_BYTES = 16 * 1024;

/** Bytes of one response on the wire: status line, fields, blank line, body. */
export function wireBytes(status: number, rawHeaders: readonly string[], body: number): number {
  let n = `HTTP/1.1 ${status} XX\r\n`.length - 2; // the reason phrase is added below
  n += reason(status).length;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    n += (rawHeaders[i] as string).length + 2 + (rawHeaders[i + 1] as string).length + 2;
  }
  return n + 2 + body;
}

function reason(status: number): string {
  return status === 200 ? "OK" : status === 206 ? "Partial Content" : "";
}

export interface PinnedLoadOptions {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  /** The server process whose CPU time is sampled. */
  readonly pid: number;
  /** The core the load generator runs on (the server should be pinned to another). */
  readonly cpu: number;
  readonly expect: Expect;
  /** Request headers, name → value. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface PinnedLoadResult {
  readonly tool: "wrk" | "autocannon";
  readonly rps: number;
  /** Latency percentiles, ms. */
  readonly p50: number;
  readonly p99: number;
  /** Server CPU time per response, µs. */
  readonly cpuUs: number;
  /** Server CPU use over the run, % of one core. */
  readonly cpuPct: number;
  /** Load generator CPU use over the run, % of one core (wrk only; NaN otherwise). */
  readonly genPct: number;
  /**
   * CPU time that neither the server nor the load generator used, on all cores, % of one
   * core (wrk only; NaN otherwise): other processes on the machine. Well above ~10 % the
   * figures of the run are disturbed.
   */
  readonly otherPct: number;
  readonly responses: number;
}

let wrkFound: boolean | undefined;
/** Whether wrk (and taskset) can be run here; BENCH_LOADGEN=autocannon says no. */
export function haveWrk(): boolean {
  if (process.env.BENCH_LOADGEN === "autocannon") return false;
  if (wrkFound === undefined) {
    const w = spawnSync("wrk", ["--version"], { encoding: "utf8" });
    wrkFound = w.error === undefined && `${w.stdout}${w.stderr}`.includes("wrk") && haveTaskset();
  }
  return wrkFound;
}

let tasksetFound: boolean | undefined;
export function haveTaskset(): boolean {
  if (tasksetFound === undefined) {
    const t = spawnSync("taskset", ["-c", "0", "true"]);
    tasksetFound = t.error === undefined && t.status === 0;
  }
  return tasksetFound;
}

/** One load run; fails the benchmark on any wrong answer or socket error. */
export function pinnedLoad(o: PinnedLoadOptions): Promise<PinnedLoadResult> {
  return haveWrk() ? wrkLoad(o) : cannonLoad(o);
}

const dir = mkdtempSync(join(tmpdir(), "bench-wrk-"));
let scripts = 0;

function luaString(s: string): string {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal here (ASCII)
}

/** The Lua hooks: count wrong answers per thread, and print one JSON line at the end. */
function luaScript(o: PinnedLoadOptions, hook: boolean): string {
  const e = o.expect;
  const headers = Object.entries(o.headers ?? {})
    .map(([n, v]) => `wrk.headers[${luaString(n)}] = ${luaString(v)}`)
    .join("\n");
  const check = hook
    ? `function response(status, h, body)
  local why = nil
  if status ~= want_status then why = "status " .. status
  elseif field(h, "content-length") ~= want_len_s then why = "content-length " .. tostring(field(h, "content-length"))
  elseif #body ~= want_len then why = "body of " .. #body .. " bytes"
  elseif want_cs ~= nil and not string.find(field(h, "cache-status") or "", want_cs, 1, true) then
    why = "cache-status " .. tostring(field(h, "cache-status"))
  elseif want_ct ~= nil and field(h, "content-type") ~= want_ct then
    why = "content-type " .. tostring(field(h, "content-type"))
  end
  if why ~= nil then
    bad = bad + 1
    if first == "" then first = why end
  end
end`
    : "";
  return `
${headers}
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
first = ""
local want_status = ${e.status}
local want_len = ${e.length}
local want_len_s = "${e.length}"
local want_cs = ${e.cacheStatus === null ? "nil" : luaString(e.cacheStatus)}
local want_ct = ${e.contentType == null ? "nil" : luaString(e.contentType)}
local function field(h, name)
  local v = h[name]
  if v == nil then
    for k, x in pairs(h) do if string.lower(k) == name then return x end end
  end
  return v
end
${check}
function done(summary, latency, requests)
  local b = 0
  local f = ""
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    if f == "" then f = t:get("first") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"bytes":%d,"us":%d,"p50":%d,"p99":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"bad":%d,"first":%q}\\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, b, f))
end
`;
}

interface WrkOut {
  readonly requests: number;
  readonly bytes: number;
  readonly us: number;
  readonly p50: number;
  readonly p99: number;
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly status: number;
  readonly timeout: number;
  readonly bad: number;
  readonly first: string;
}

function wrkLoad(o: PinnedLoadOptions): Promise<PinnedLoadResult> {
  const file = join(dir, `check-${scripts++}.lua`);
  const hook = o.expect.length <= HOOK_MAX_BYTES;
  writeFileSync(file, luaScript(o, hook));
  const each = wireBytes(o.expect.status, o.expect.rawHeaders, o.expect.length);
  const args = [
    "-c",
    String(o.cpu),
    "wrk",
    "-t1",
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    "--timeout",
    "10s",
    "-s",
    file,
    o.url,
  ];
  return new Promise((resolve) => {
    const cpu0 = cpuMs(o.pid);
    const t0 = performance.now();
    const child = spawn("taskset", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    // The generator's own CPU and everyone else's, sampled from 10 % to 90 % of the run
    // (wrk's /proc entry is gone once it exits).
    let s0: Sample | null = null;
    let genPct = Number.NaN;
    let otherPct = Number.NaN;
    const a = setTimeout(() => {
      s0 = sample(o.pid, child.pid);
    }, o.seconds * 100);
    const b = setTimeout(() => {
      const s1 = sample(o.pid, child.pid);
      if (s0 === null) return;
      const ms = s1.t - s0.t;
      genPct = ((s1.gen - s0.gen) / ms) * 100;
      const ours = s1.server - s0.server + (s1.gen - s0.gen);
      otherPct = Math.max(0, ((s1.busy - s0.busy - ours) / ms) * 100);
    }, o.seconds * 900);
    const guard = setTimeout(() => child.kill("SIGKILL"), (o.seconds + 30) * 1000);
    child.once("exit", (code) => {
      clearTimeout(a);
      clearTimeout(b);
      clearTimeout(guard);
      const cpu = cpuMs(o.pid) - cpu0;
      const seconds = (performance.now() - t0) / 1000;
      const m = /WRK_RESULT (\{.*\})/.exec(out);
      if (code !== 0 || m === null) fail(`wrk exited ${code}: ${err.trim()} ${out.trim()}`);
      const r = JSON.parse(m[1] as string) as WrkOut;
      const socket = r.connect + r.read + r.write + r.timeout;
      if (socket > 0 || r.status > 0 || r.bad > 0) {
        fail(
          `${o.url}: ${r.connect} connect, ${r.read} read, ${r.write} write errors, ` +
            `${r.timeout} timeouts, ${r.status} non-2xx/3xx, ${r.bad} wrong answers (first: ${r.first || "—"})`,
        );
      }
      if (r.requests === 0) fail(`${o.url}: no responses`);
      // Without the hook: every answer the size of the validated one (an Age value may
      // have gained a digit; wrk also counts what it read of the answers still in flight
      // when it stopped, at most one per connection).
      const per = r.bytes / r.requests;
      const most = each + 4 + (o.connections * each) / r.requests;
      if (!hook && (per < each - 0.01 || per > most)) {
        fail(`${o.url}: ${per.toFixed(2)} bytes per answer on average, expected ${each}`);
      }
      resolve({
        tool: "wrk",
        rps: r.requests / (r.us / 1e6),
        p50: r.p50 / 1000,
        p99: r.p99 / 1000,
        cpuUs: (cpu * 1000) / r.requests,
        cpuPct: Math.round(cpu / 10 / seconds),
        genPct: Math.round(genPct),
        otherPct: Math.round(otherPct),
        responses: r.requests,
      });
    });
  });
}

interface Sample {
  readonly t: number;
  readonly server: number;
  readonly gen: number;
  /** Busy time of every core, ms. */
  readonly busy: number;
}

function sample(server: number, gen: number | undefined): Sample {
  return { t: performance.now(), server: safeCpu(server), gen: safeCpu(gen), busy: busyMs() };
}

/** Non-idle time of all cores so far, ms (/proc/stat: user nice system idle iowait …). */
function busyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] as string;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((x, y) => x + y, 0);
  return (total - (f[3] ?? 0) - (f[4] ?? 0)) * 10;
}

function safeCpu(pid: number | undefined): number {
  try {
    return pid === undefined ? Number.NaN : cpuMs(pid);
  } catch {
    return Number.NaN;
  }
}

/**
 * Without wrk: autocannon in a child process of its own (bench/lib/cannon.ts), pinned
 * to the generator's core; it prints one `RESULT <json>` line and exits.
 */
async function cannonLoad(o: PinnedLoadOptions): Promise<PinnedLoadResult> {
  const source = fileURLToPath(new URL("cannon.ts", import.meta.url));
  const file = await buildNode(source, "dist/bench/cannon.mjs");
  const argv = [process.execPath, file, JSON.stringify(o)];
  const [cmd, ...args] = haveTaskset() ? ["taskset", "-c", String(o.cpu), ...argv] : argv;
  const cpu0 = cpuMs(o.pid);
  const t0 = performance.now();
  const child = spawn(cmd as string, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const guard = setTimeout(() => child.kill("SIGKILL"), (o.seconds + 30) * 1000);
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  clearTimeout(guard);
  const cpu = cpuMs(o.pid) - cpu0;
  const seconds = (performance.now() - t0) / 1000;
  const m = /RESULT (\{.*\})/.exec(out);
  if (code !== 0 || m === null) fail(`autocannon child exited ${code}: ${out.trim()}`);
  const r = JSON.parse(m[1] as string) as {
    rps: number;
    p50: number;
    p99: number;
    responses: number;
  };
  return {
    tool: "autocannon",
    ...r,
    cpuUs: (cpu * 1000) / r.responses,
    cpuPct: Math.round(cpu / 10 / seconds),
    genPct: Number.NaN,
    otherPct: Number.NaN,
  };
}
