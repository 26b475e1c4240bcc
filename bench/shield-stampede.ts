/**
 * Shield stampede: a herd of concurrent cold requests for one key, each on its own
 * connection: 1,000 clients on a 500 ms origin, and 100 on a 6,000 ms origin. Reported:
 * how many requests reached the origin, and client latency (send → last body byte)
 * p50/p99/max. Baseline in the same run: the same requests sent straight to the origin.
 *
 *   npx tsx bench/shield-stampede.ts       (about 40 s; BENCH_ROUNDS 3, BENCH_HERDS
 *                                           "500:1000,6000:100" as delay:clients)
 *
 * The shield runs alone on core 1 (taskset), this process (the clients) and the origin
 * on core 0, so the clients reading 1,000 answers do not take the shield's core; without
 * taskset everything runs unpinned, and the table says so.
 * The shield and the origin (bench/lib/serve-origin.ts: counts requests, answers each
 * after the delay with a fresh random 10 KiB body, Cache-Control: public, max-age=60)
 * run in child processes; the 1,000 clients run in this one, on raw keep-alive sockets
 * (bench/lib/raw.ts) that are connected and have answered one request before the
 * burst, so the figure is the cache's, not 1,000 TCP handshakes'. Each latency runs
 * from that client's write to its last body byte. One unreported stampede warms the JIT
 * of both servers. Every answer is checked: status 200 and a body byte-identical to one
 * the origin sent (by SHA-256, from the origin's own record); anything else fails.
 *
 * Targets: 1 origin request; p99 at most the origin's delay + 50 ms.
 */
import { createHash } from "node:crypto";
import { getJson } from "./lib/http.ts";
import { affinity, type Child, pinProcess, startChild } from "./lib/proc.ts";
import { type RawAnswer, RawClient } from "./lib/raw.ts";
import { fail, fixed, int, median, percentile, printTable, type Row } from "./lib/table.ts";
import { haveTaskset } from "./lib/wrk.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HERDS = (process.env.BENCH_HERDS ?? "500:1000,6000:100").split(",").map((h) => {
  const [delay, clients] = h.split(":").map(Number);
  return { delay: delay as number, clients: clients as number };
});
const WARM_CLIENTS = 1000;
const BODY_BYTES = 10 * 1024;
const SLACK_MS = 50;

interface Stats {
  readonly requests: number;
  readonly sent: string[];
}

/** One warm connection per client: connected, and one request answered on it. */
async function openClients(port: number, warmPath: string, n: number): Promise<RawClient[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => RawClient.open(port)));
  for (const a of await Promise.all(clients.map((c) => c.get(warmPath)))) {
    if (a.status !== 200) fail(`warming ${warmPath}: status ${a.status}`);
  }
  return clients;
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

interface Run {
  readonly originRequests: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** From the first request written to the last, ms (the client's own spread). */
  readonly spread: number;
  /** From the first request written to the first and to the last answer complete, ms. */
  readonly firstDone: number;
  readonly lastDone: number;
  readonly collapsed: number;
}

async function stampede(
  origin: Child,
  port: number,
  warmPath: string,
  path: string,
  n: number,
): Promise<Run> {
  const clients = await openClients(port, warmPath, n);
  const before = await getJson<Stats>(`${origin.url}/__origin/stats`);
  // Every request is written in this one loop, each as soon as it is made.
  const t0 = performance.now();
  const pending: Promise<RawAnswer>[] = [];
  for (const c of clients) pending.push(c.get(path));
  const spread = performance.now() - t0;
  const answers = await Promise.all(pending);
  for (const c of clients) c.close();
  const after = await getJson<Stats>(`${origin.url}/__origin/stats`);
  const bodies = new Set(after.sent.slice(before.sent.length));
  for (const a of answers) {
    const cs = a.headers.get("cache-status") ?? "";
    if (a.status !== 200) fail(`${path} on port ${port}: status ${a.status} (${cs})`);
    if (a.body.length !== BODY_BYTES || !bodies.has(sha(a.body))) {
      fail(`${path} on port ${port}: a body differs from every body the origin sent`);
    }
  }
  const ms = answers.map((a) => a.ms);
  return {
    originRequests: after.requests - before.requests,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: Math.max(...ms),
    spread,
    firstDone: Math.min(...answers.map((a) => a.at)) - t0,
    lastDone: Math.max(...answers.map((a) => a.at)) - t0,
    collapsed: answers.filter((a) => a.headers.get("cache-status")?.includes("collapsed")).length,
  };
}

const children: Child[] = [];
async function main(): Promise<void> {
  const own = haveTaskset() ? affinity(process.pid) : null;
  const pinned = own !== null && pinProcess(process.pid, "0");
  const cpu = (n: number) => (pinned ? { cpu: n } : {});
  const origin = await startChild("serve-origin.ts", [String(BODY_BYTES)], [], cpu(0));
  children.push(origin);
  const config = JSON.stringify({
    origins: [{ name: "bench", url: origin.url, hosts: ["127.0.0.1"] }],
  });
  const shield = await startChild("serve-shield.ts", [config, "silent"], [], cpu(1));
  children.push(shield);

  // One unreported stampede on each first, so that neither is measured with cold JIT
  // (a fresh shield spends ~3× the CPU on its first 1,000 misses).
  const warm = `/stampede/100/warm-${process.pid}`;
  await stampede(origin, origin.port, "/warm", warm, WARM_CLIENTS);
  await stampede(origin, shield.port, "/__shield/health", warm, WARM_CLIENTS);

  const results = new Map<string, Run[]>();
  const add = (key: string, r: Run) => results.set(key, [...(results.get(key) ?? []), r]);
  for (const { delay, clients } of HERDS) {
    for (let round = 1; round <= ROUNDS; round++) {
      const path = `/stampede/${delay}/${round}-${process.pid}`;
      const direct = await stampede(origin, origin.port, "/warm", path, clients);
      const viaShield = await stampede(origin, shield.port, "/__shield/health", path, clients);
      add(`origin ${delay}`, direct);
      add(`shield ${delay}`, viaShield);
      for (const [name, r] of [
        ["origin", direct],
        ["shield", viaShield],
      ] as const) {
        process.stderr.write(
          `  ${delay} ms round ${round} ${name}: ${r.originRequests} origin requests, p50 ${fixed(r.p50)} ` +
            `p99 ${fixed(r.p99)} max ${fixed(r.max)} ms, ${r.collapsed} collapsed, sent within ${fixed(r.spread)} ms, ` +
            `answers complete from ${fixed(r.firstDone)} to ${fixed(r.lastDone)} ms\n`,
        );
      }
    }
  }

  if (pinned && own !== null) pinProcess(process.pid, own);
  const rows: Row[] = [];
  for (const { delay, clients } of HERDS) {
    const s = results.get(`shield ${delay}`) ?? [];
    const o = results.get(`origin ${delay}`) ?? [];
    const med = (list: Run[], f: (r: Run) => number) => median(list.map(f));
    const worstCount = Math.max(...s.map((r) => r.originRequests));
    rows.push({
      figure: `${int(clients)} clients, ${delay} ms origin: origin requests (worst round)`,
      value: int(worstCount),
      baseline: int(Math.max(...o.map((r) => r.originRequests))),
      ratio: "—",
      target: "1",
      pass: worstCount === 1,
    });
    for (const [label, f] of [
      ["p50", (r: Run) => r.p50],
      ["p99", (r: Run) => r.p99],
      ["max", (r: Run) => r.max],
    ] as const) {
      const v = med(s, f);
      const b = med(o, f);
      rows.push({
        figure: `${int(clients)} clients, ${delay} ms origin: ${label} latency, ms`,
        value: fixed(v),
        baseline: fixed(b),
        ratio: `${(v / b).toFixed(3)}×`,
        target: "—",
      });
    }
    const over = med(s, (r) => r.p99) - delay;
    rows.push({
      figure: `${int(clients)} clients, ${delay} ms origin: p99 − origin delay, ms`,
      value: fixed(over),
      baseline: fixed(med(o, (r) => r.p99) - delay),
      ratio: "—",
      target: `≤ ${SLACK_MS}`,
      pass: over <= SLACK_MS,
    });
    const added = median(s.map((r, i) => r.p99 - o[i]!.p99));
    rows.push({
      figure: `${int(clients)} clients, ${delay} ms origin: p99 − direct p99 (same round), ms`,
      value: fixed(added),
      baseline: "0.0",
      ratio: "—",
      target: "—",
    });
  }
  const ok = printTable(
    `shield stampede: concurrent cold requests for one key, one warm connection each, ` +
      `${BODY_BYTES / 1024} KiB body (median of ${ROUNDS} rounds, Node ${process.version}; ` +
      `${pinned ? "shield on core 1, clients and origin on core 0" : "NOT pinned: taskset unusable"}); ` +
      "baseline: the same requests straight to the origin",
    rows,
  );
  process.exitCode = ok ? 0 : 1;
}

try {
  await main();
} finally {
  for (const c of children) await c.stop();
}
