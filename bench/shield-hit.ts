/**
 * Shield hit path: requests/s, p99 latency and server CPU per request for a cached 1 KiB
 * and a cached 100 KiB object, served by the shield (app factory + node:http, as
 * origin-shield/main.ts serves it), beside a baseline measured in the same run: a bare
 * node:http server writing the same bytes from memory with the same response headers.
 *
 *   npx tsx bench/shield-hit.ts    (about 90 s; BENCH_SECONDS 2, BENCH_ROUNDS 5,
 *                                   BENCH_CONNECTIONS 64, BENCH_OBJECTS "1k,100k")
 *
 * The load generator and the server under test each have one core: wrk (one thread, 64
 * keep-alive connections) runs under `taskset -c 0`, every server under `taskset -c 1`
 * (all its threads); without wrk, autocannon runs in a child process of its own on core
 * 0 (bench/lib/wrk.ts). The shield runs twice: with the request log off (the app's
 * default silent logger) and with the CLI's default log (info, every request, pino's
 * destination on /dev/null). Rounds alternate the three servers, order rotating each
 * round; each ratio is taken within its round (the runs seconds apart see the same
 * machine), and the table gives the median ratio and the spread (lowest–highest) over
 * rounds.
 *
 * Every response is checked (wrk's Lua hook: status 200, Content-Length, the body's
 * length and a Cache-Status saying hit; any socket error or non-2xx fails the run), and
 * before and after every run one request's body is compared byte for byte. The origin
 * must see only the warming requests. Server CPU per response comes from /proc (user +
 * system time of every thread over the run): it does not depend on the load generator,
 * and barely on other processes sharing the machine.
 *
 * Targets: 1 KiB ≥ 0.90× bare req/s with the log off, ≥ 0.85× with the default log;
 * 100 KiB ≥ 0.95× and p99 within 1 ms of bare.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { patternBody } from "./lib/body.ts";
import { get } from "./lib/http.ts";
import { type Child, startChild } from "./lib/proc.ts";
import { fail, fixed, int, median, printTable, type Row } from "./lib/table.ts";
import { haveTaskset, type PinnedLoadResult, pinnedLoad } from "./lib/wrk.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const WANT = (process.env.BENCH_OBJECTS ?? "1k,100k").split(",");
const SERVER_CPU = 1;
/** Other processes' CPU (% of one core) above which a round is redone, and how often. */
const QUIET_PCT = Number(process.env.BENCH_QUIET_PCT ?? 15);
const MAX_REDO = Number(process.env.BENCH_MAX_REDO ?? 2 * ROUNDS);
const LOAD_CPU = 0;
const ALL = [
  { id: "1k", name: "1 KiB", path: "/obj-1k", size: 1024, off: 0.9, on: 0.85, p99Ms: null },
  {
    id: "100k",
    name: "100 KiB",
    path: "/obj-100k",
    size: 100 * 1024,
    off: 0.95,
    on: 0.95,
    p99Ms: 1,
  },
] as const;
const OBJECTS = ALL.filter((o) => WANT.includes(o.id));
type Obj = (typeof OBJECTS)[number];

// The loopback origin: only the warming requests reach it.
let originRequests = 0;
const origin = createServer((req, res) => {
  originRequests++;
  const o = ALL.find((x) => x.path === req.url);
  if (o === undefined) {
    res.writeHead(404, { "content-length": "0" });
    res.end();
    return;
  }
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "cache-control": "public, max-age=3600",
    etag: `"bench-${o.size}"`,
    "last-modified": "Thu, 01 Jan 2026 00:00:00 GMT",
    "content-length": String(o.size),
  });
  res.end(patternBody(o.size));
});
await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

const config = JSON.stringify({
  origins: [{ name: "bench", url: originUrl, hosts: ["127.0.0.1"] }],
});
const children: Child[] = [];

/** One request, its whole body compared with the object's bytes; its raw header list. */
async function verify(child: Child, o: Obj, hit: boolean): Promise<string[]> {
  const r = await get(child.url + o.path);
  const cs = String(r.headers["cache-status"] ?? "");
  if (r.status !== 200) fail(`${child.url}${o.path}: status ${r.status}`);
  if (hit && !cs.includes("hit")) fail(`${child.url}${o.path}: not a hit: ${cs}`);
  if (!r.body.equals(patternBody(o.size))) fail(`${child.url}${o.path}: body differs`);
  return r.rawHeaders;
}

async function main(): Promise<void> {
  if (!haveTaskset()) fail("taskset is needed to pin the load generator and the servers");
  const pin = { cpu: SERVER_CPU };
  const silent = await startChild("serve-shield.ts", [config, "silent"], [], pin);
  children.push(silent);
  const info = await startChild("serve-shield.ts", [config, "info"], [], pin);
  children.push(info);

  // Warm each shield's cache (one miss per object), then check a hit is byte-identical.
  const hitHeaders = new Map<string, string[]>();
  for (const shield of [silent, info]) {
    for (const o of OBJECTS) {
      await verify(shield, o, false);
      const raw = await verify(shield, o, true);
      // The baseline writes the same header fields (Node adds Connection/Keep-Alive itself).
      const flat: string[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!.toLowerCase();
        if (name !== "connection" && name !== "keep-alive") flat.push(name, raw[i + 1]!);
      }
      hitHeaders.set(o.path, flat);
    }
  }
  const warmOriginRequests = originRequests;
  if (warmOriginRequests !== 2 * OBJECTS.length) {
    fail(`warming took ${warmOriginRequests} origin requests, expected ${2 * OBJECTS.length}`);
  }

  const spec: Record<string, { size: number; headers: string[] }> = {};
  for (const o of OBJECTS) spec[o.path] = { size: o.size, headers: hitHeaders.get(o.path)! };
  const bare = await startChild("serve-bare.ts", [JSON.stringify(spec)], [], pin);
  children.push(bare);
  const sample = await get(bare.url + OBJECTS[0]!.path);
  console.log(
    `response headers, each server (${sample.rawHeaders.length / 2} fields): ${sample.rawHeaders
      .filter((_, i) => i % 2 === 0)
      .join(", ")}`,
  );

  const servers = [
    { name: "bare", child: bare },
    { name: "silent", child: silent },
    { name: "info", child: info },
  ] as const;
  const run = async (child: Child, o: Obj, seconds: number) => {
    const rawHeaders = await verify(child, o, child !== bare);
    const r = await pinnedLoad({
      url: child.url + o.path,
      seconds,
      connections: CONNECTIONS,
      pid: child.pid,
      cpu: LOAD_CPU,
      expect: { status: 200, length: o.size, cacheStatus: "hit", rawHeaders },
    });
    await verify(child, o, child !== bare);
    return r;
  };

  // JIT warm-up, unreported.
  for (const o of OBJECTS) for (const s of servers) await run(s.child, o, 1);

  const results = new Map<string, PinnedLoadResult[]>();
  let tool = "";
  let redone = 0;
  const others: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const o of OBJECTS) {
      // A round's three runs are redone when other processes took more than QUIET_PCT of
      // the machine during one of them (other engineers' test runs share the cores), at
      // most MAX_REDO times in all; past that every round is kept, noisy or not.
      for (;;) {
        const round: [string, PinnedLoadResult][] = [];
        for (let i = 0; i < servers.length; i++) {
          const s = servers[(i + r) % servers.length]!;
          const x = await run(s.child, o, SECONDS);
          tool = x.tool;
          round.push([s.name, x]);
          process.stderr.write(
            `  round ${r + 1} ${o.name.padEnd(7)} ${s.name.padEnd(6)} ${int(x.rps).padStart(7)} req/s ` +
              `p99 ${fixed(x.p99, 2)} ms, server ${fixed(x.cpuUs)} µs/req at ${x.cpuPct}% CPU` +
              `${Number.isNaN(x.genPct) ? "" : `, wrk ${x.genPct}%, others ${x.otherPct}%`}\n`,
          );
        }
        const noisy = round.some(([, x]) => x.otherPct > QUIET_PCT);
        if (noisy && redone < MAX_REDO) {
          redone++;
          process.stderr.write("  (other processes were busy: round redone)\n");
          continue;
        }
        for (const [name, x] of round) {
          const key = `${name} ${o.path}`;
          results.set(key, [...(results.get(key) ?? []), x]);
          others.push(x.otherPct);
        }
        break;
      }
    }
  }
  if (originRequests !== warmOriginRequests) {
    fail(`${originRequests - warmOriginRequests} origin requests during the hit runs`);
  }

  const list = (server: string, o: Obj) => results.get(`${server} ${o.path}`) ?? [];
  const med = (server: string, o: Obj, f: (x: PinnedLoadResult) => number): number =>
    median(list(server, o).map(f));
  /** Per-round ratios server ÷ bare. */
  const ratios = (server: string, o: Obj, f: (x: PinnedLoadResult) => number): number[] => {
    const b = list("bare", o);
    return list(server, o).map((x, i) => f(x) / f(b[i]!));
  };
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  const rows: Row[] = [];
  const logs = [
    ["silent", "log off"],
    ["info", "default log (info)"],
  ] as const;
  for (const o of OBJECTS) {
    for (const [server, label] of logs) {
      const rs = ratios(server, o, (v) => v.rps);
      const r = median(rs);
      const target = server === "silent" ? o.off : o.on;
      rows.push({
        figure: `${o.name} hit req/s, ${label} (spread ${spread(rs)})`,
        value: int(med(server, o, (v) => v.rps)),
        baseline: int(med("bare", o, (v) => v.rps)),
        ratio: `${r.toFixed(2)}×`,
        target: `≥ ${target.toFixed(2)}×`,
        pass: r >= target,
      });
    }
    for (const [server, label] of logs) {
      const diffs = list(server, o).map((x, i) => x.p99 - list("bare", o)[i]!.p99);
      const d = median(diffs);
      rows.push({
        figure: `${o.name} hit p99 ms, ${label} (− bare: ${Math.min(...diffs).toFixed(2)}…${Math.max(...diffs).toFixed(2)})`,
        value: fixed(
          med(server, o, (v) => v.p99),
          2,
        ),
        baseline: fixed(
          med("bare", o, (v) => v.p99),
          2,
        ),
        ratio: `${d >= 0 ? "+" : ""}${d.toFixed(2)} ms`,
        target: o.p99Ms === null ? "—" : `≤ +${o.p99Ms} ms`,
        pass: o.p99Ms === null ? undefined : d <= o.p99Ms,
      });
    }
    for (const [server, label] of logs) {
      const rs = ratios(server, o, (v) => v.cpuUs);
      rows.push({
        figure: `${o.name} hit server CPU µs/req, ${label} (spread ${spread(rs)})`,
        value: fixed(med(server, o, (v) => v.cpuUs)),
        baseline: fixed(med("bare", o, (v) => v.cpuUs)),
        ratio: `${median(rs).toFixed(2)}×`,
        target: "—",
      });
    }
  }
  const gen = `${tool === "wrk" ? "wrk -t1" : "autocannon (child process)"} on core ${LOAD_CPU}`;
  printTable(
    `shield hit path (median of ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections, ` +
      `${gen}, each server alone on core ${SERVER_CPU}, Node ${process.version}); baseline: bare ` +
      "node:http, same bytes and headers; ratio: median of the per-round ratios",
    rows,
  );
  const cpu = OBJECTS.map(
    (o) =>
      `${o.name}: ${servers.map((s) => `${s.name} ${med(s.name, o, (v) => v.cpuPct)}%`).join(", ")}`,
  );
  console.log(`server CPU during the runs (of its core): ${cpu.join("; ")}`);
  if (tool === "wrk") {
    const g = OBJECTS.map(
      (o) =>
        `${o.name}: ${servers.map((s) => `${s.name} ${med(s.name, o, (v) => v.genPct)}%`).join(", ")}`,
    );
    console.log(`wrk CPU during the runs (of its core): ${g.join("; ")}`);
  }
  if (tool === "wrk") {
    console.log(
      `other processes during the kept runs: median ${median(others)}%, most ${Math.max(...others)}% ` +
        `of a core; ${redone} round(s) redone for being above ${QUIET_PCT}%`,
    );
  }
  console.log(`origin requests: ${warmOriginRequests} to warm, 0 during the runs`);
  process.exitCode = rows.every((r) => r.pass !== false) ? 0 : 1;
}

try {
  await main();
} finally {
  for (const c of children) await c.stop();
  origin.closeAllConnections();
  origin.close();
}
