/**
 * Origin pool under failure: requests/s and p99 latency of the shield's miss path over a
 * pool of three origin servers, with all three healthy and with one of them killed a
 * moment into the run (its listening socket closed and every connection to it reset), in
 * the same run, rounds alternating which goes first.
 *
 *   npx tsx bench/origin-pool.ts   (about a minute; BENCH_SECONDS 5, BENCH_ROUNDS 3,
 *                                   BENCH_CONNECTIONS 32, BENCH_QUIET_PCT 15)
 *
 * Every request reaches an origin server: the object is `no-store` (after its first miss
 * the shield sends each request straight on, hit-for-miss), 1 KiB. The pool has active
 * health checks (every 500 ms) and the default breaker and retry budget. wrk (one thread)
 * runs under `taskset -c 0` with the three origin servers (this process, pinned there
 * too); the shield alone on core 1 (bench/lib/wrk.ts, bench/lib/proc.ts). wrk fails the
 * run on any socket error or non-2xx answer, so a run with a server killed passes only if
 * no client saw the failure: in-flight requests cut by the kill and connects refused
 * afterwards must all have been retried on the other servers. Before each run the pool
 * is brought back to three servers up (the killed one revived, found healthy by its
 * checks and taken back by the breaker's probe) and the origin counters are read around
 * the run, so the table also says where requests went. A round is redone (at most
 * BENCH_MAX_REDO times) when processes other than wrk, the shield and the origins took
 * more than BENCH_QUIET_PCT of a core during either of its runs.
 *
 * Target: with one of three servers failing, at least 0.9× the healthy requests/s; the
 * shield's core is the limit either way (three servers on the load core), so the cost
 * measured is the failure's: retries, ejection and the probes of the dead server.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { patternBody } from "./lib/body.ts";
import { get, getJson, sleep } from "./lib/http.ts";
import { type Child, cpuMs, pinProcess, startChild } from "./lib/proc.ts";
import { fail, fixed, int, median, printTable, type Row } from "./lib/table.ts";
import { haveTaskset, type PinnedLoadResult, pinnedLoad } from "./lib/wrk.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** Other processes' CPU (% of one core) above which a round is redone, and how often. */
const QUIET_PCT = Number(process.env.BENCH_QUIET_PCT ?? 15);
const MAX_REDO = Number(process.env.BENCH_MAX_REDO ?? 2 * ROUNDS);
const LOAD_CPU = 0;
const SHIELD_CPU = 1;
const SIZE = 1024;
/** When the failing server is killed, from the start of the run. */
const KILL_AFTER_MS = 300;
const BODY = patternBody(SIZE);

/** One origin server of the pool: counts what it serves, can be killed and revived. */
class PoolOrigin {
  readonly name: string;
  requests = 0;
  readonly #server: Server;
  #port = 0;
  #up = false;

  constructor(name: string) {
    this.name = name;
    this.#server = createServer((req, res) => {
      if (req.url === "/healthz") {
        res.writeHead(200, { "content-length": "2" });
        res.end("ok");
        return;
      }
      this.requests++;
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(SIZE),
        "cache-control": "no-store",
      });
      res.end(BODY);
    });
    this.#server.keepAliveTimeout = 10_000;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get up(): boolean {
    return this.#up;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(this.#port, "127.0.0.1", resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#up = true;
  }

  /** As a crash looks from outside: connections reset, then connects refused. */
  async kill(): Promise<void> {
    if (!this.#up) return;
    this.#up = false;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

interface PoolHealth {
  readonly originPools: Record<
    string,
    {
      up: number;
      retries: number;
      retriesRefused: number;
      servers: { url: string; state: string; failures: number }[];
    }
  >;
}

interface Run extends PinnedLoadResult {
  /** Share of the run's origin requests each server served. */
  readonly shares: readonly number[];
  readonly retries: number;
  /** The origins' CPU (this process), % of one core. */
  readonly originPct: number;
  /** Other processes' CPU, % of one core: wrk.ts's figure without the origins'. */
  readonly strangersPct: number;
}

const origins = [new PoolOrigin("a"), new PoolOrigin("b"), new PoolOrigin("c")];
const failing = origins[2] as PoolOrigin;
let shield: Child | undefined;

async function main(): Promise<void> {
  if (!haveTaskset()) fail("taskset is needed to pin the load generator and the shield");
  if (!pinProcess(process.pid, String(LOAD_CPU))) fail("could not pin the origins to core 0");
  for (const origin of origins) await origin.listen();
  const config = JSON.stringify({
    origins: [
      {
        name: "bench",
        servers: origins.map((o) => o.url),
        hosts: ["127.0.0.1"],
        health: { path: "/healthz", intervalMs: 500, timeoutMs: 400 },
      },
    ],
  });
  shield = await startChild("serve-shield.ts", [config, "silent"], [], { cpu: SHIELD_CPU });
  const base = shield.url;
  const pool = async () => (await getJson<PoolHealth>(`${base}/__shield/health`)).originPools.bench;

  /** Every server up: the killed one revived, its checks passed, its probe answered. */
  const allUp = async () => {
    if (!failing.up) await failing.listen();
    const end = performance.now() + 30_000;
    while (performance.now() < end) {
      await get(`${base}/warm`); // a request to carry the breaker's probe
      if ((await pool())?.up === 3) return;
      await sleep(100);
    }
    fail(`the pool did not come back: ${JSON.stringify(await pool())}`);
  };
  const sample = await get(`${base}/obj`);
  if (sample.status !== 200 || !sample.body.equals(BODY)) fail(`/obj: status ${sample.status}`);

  const run = async (kill: boolean, seconds: number): Promise<Run> => {
    await allUp();
    const counts = origins.map((o) => o.requests);
    const retries = (await pool())?.retries ?? 0;
    const timer = kill ? setTimeout(() => void failing.kill(), KILL_AFTER_MS) : undefined;
    const cpu0 = cpuMs(process.pid);
    const t0 = performance.now();
    const result = await pinnedLoad({
      url: `${base}/obj`,
      seconds,
      connections: CONNECTIONS,
      pid: shield!.pid,
      cpu: LOAD_CPU,
      expect: { status: 200, length: SIZE, cacheStatus: null, rawHeaders: sample.rawHeaders },
    });
    clearTimeout(timer);
    const originPct = Math.round(((cpuMs(process.pid) - cpu0) / (performance.now() - t0)) * 100);
    const served = origins.map((o, i) => o.requests - (counts[i] as number));
    const total = served.reduce((sum, n) => sum + n, 0);
    if (total < result.responses) {
      fail(`${result.responses} answers but only ${total} origin requests: not all misses`);
    }
    const after = await pool();
    return {
      ...result,
      shares: served.map((n) => n / total),
      retries: (after?.retries ?? 0) - retries,
      originPct,
      strangersPct: Math.max(0, result.otherPct - originPct),
    };
  };

  // JIT and connection warm-up, unreported.
  await run(false, 1);
  const healthy: Run[] = [];
  const broken: Run[] = [];
  let redone = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    // A round's pair is redone when other processes took more than QUIET_PCT of the
    // machine during either run (other engineers' tests share the cores), at most
    // MAX_REDO times in all; past that every round is kept, noisy or not.
    for (;;) {
      const pair: [boolean, Run][] = [];
      for (const kill of order) {
        const r = await run(kill, SECONDS);
        pair.push([kill, r]);
        const shares = r.shares.map((x, i) => `${origins[i]?.name} ${Math.round(x * 100)}%`);
        process.stderr.write(
          `  round ${round + 1} ${kill ? "one failing" : "all healthy"} ${int(r.rps).padStart(7)} req/s ` +
            `p99 ${fixed(r.p99, 2)} ms, shield ${r.cpuPct}% CPU, origins ${r.originPct}%, ` +
            `others ${r.strangersPct}%; ` +
            `origin requests ${shares.join(", ")}; retries ${r.retries}\n`,
        );
      }
      if (pair.some(([, r]) => r.strangersPct > QUIET_PCT) && redone < MAX_REDO) {
        redone++;
        process.stderr.write("  (other processes were busy: round redone)\n");
        continue;
      }
      for (const [kill, r] of pair) (kill ? broken : healthy).push(r);
      break;
    }
  }

  const rps = (runs: Run[]) => median(runs.map((r) => r.rps));
  const p99 = (runs: Run[]) => median(runs.map((r) => r.p99));
  const ratios = broken.map((r, i) => r.rps / (healthy[i] as Run).rps);
  const ratio = median(ratios);
  const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  const p99Diffs = broken.map((r, i) => r.p99 - (healthy[i] as Run).p99);
  const rows: Row[] = [
    {
      figure: `req/s, one of three failing (spread ${spread})`,
      value: int(rps(broken)),
      baseline: int(rps(healthy)),
      ratio: `${ratio.toFixed(2)}×`,
      target: "≥ 0.90×",
      pass: ratio >= 0.9,
    },
    {
      figure: `p99 ms, one of three failing (− healthy: ${Math.min(...p99Diffs).toFixed(2)}…${Math.max(...p99Diffs).toFixed(2)})`,
      value: fixed(p99(broken), 2),
      baseline: fixed(p99(healthy), 2),
      ratio: `${median(p99Diffs) >= 0 ? "+" : ""}${median(p99Diffs).toFixed(2)} ms`,
      target: "—",
    },
    {
      figure: "client errors, one of three failing (wrk: socket errors, non-2xx)",
      value: "0",
      baseline: "0",
      ratio: "—",
      target: "0",
      pass: true,
    },
  ];
  const last = broken[broken.length - 1] as Run;
  printTable(
    `origin pool, three servers, 1 KiB no-store misses (median of ${ROUNDS} rounds × ${SECONDS} s, ` +
      `${CONNECTIONS} connections, wrk -t1 and the origins on core ${LOAD_CPU}, the shield alone ` +
      `on core ${SHIELD_CPU}, Node ${process.version}); baseline: all three healthy in the same ` +
      `round; one failing: server c killed ${KILL_AFTER_MS} ms into the run`,
    rows,
  );
  console.log(`rounds redone for other processes above ${QUIET_PCT}% of a core: ${redone}`);
  console.log(
    `one failing, last round: origin requests ${last.shares.map((s, i) => `${origins[i]?.name} ${(s * 100).toFixed(1)}%`).join(", ")}, ` +
      `${last.retries} retried on another server`,
  );
  process.exitCode = rows.every((r) => r.pass !== false) ? 0 : 1;
}

try {
  await main();
} finally {
  await shield?.stop();
  for (const origin of origins) await origin.kill();
}
