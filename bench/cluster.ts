/**
 * A cluster of three shield nodes sharing one Redis, on loopback, each figure beside a
 * baseline measured in the same run:
 *
 *   herd      1,000 concurrent cold requests for one key, spread round-robin over the
 *             three nodes, on a 500 ms origin: origin fetches and client latency;
 *             baseline: the same herd on one node alone (no Redis)
 *   Redis hit a key node A stored, read first by node B (a hit from Redis), p50/p99;
 *             baseline: B's second read of it (a hit from memory)
 *   purge     a purge by URL on A until B and C no longer answer the old copy;
 *             baseline: A's own answer to the purge
 *   disk hit  req/s of a 100 KiB object read from the disk tier (a node whose memory tier
 *             takes nothing that large); baseline: the same object hit in memory on a
 *             node with memory alone
 *   Redis down  client errors while Redis is killed under load on two nodes;
 *             baseline: the same load with Redis up
 *
 *   npm run bench:cluster   (about 90 s; BENCH_ROUNDS 3, BENCH_SECONDS 2, BENCH_PURGES 100
 *                            per round, BENCH_SAMPLES 100 per size and round,
 *                            BENCH_REDIS_TIMEOUT_MS: shield.redis.timeoutMs, default the
 *                            schema's)
 *
 * Processes (bench/cluster-nodes.ts): a private redis-server (tests/helpers/
 * redis-server.ts), the loopback origin (bench/lib/serve-origin.ts) and every shield node
 * (bench/lib/serve-shield.ts, built as `npm run shield` builds the shield) run as child
 * processes, one part of the run per file (bench/cluster-*.ts). The nodes run on core 1
 * (taskset); this process (the clients), the origin, Redis and the load generator on
 * core 0, so the clients never take the nodes' CPU; without taskset nothing is pinned and
 * the title says so. Rounds alternate which side of a comparison goes first; the table
 * gives the median of the rounds and the spread (lowest–highest). Every answer is
 * checked (status, the body byte for byte, Cache-Status where the tier matters); any
 * wrong answer fails the run, and the run stops itself after 3 minutes whatever happens.
 *
 * Targets: herd 1 origin fetch and p99 ≤ origin delay + 100 ms; purge p99 < 1 s (on
 * loopback it should be well under 50 ms); disk hit ≥ 0.5× memory hit req/s; 0 client
 * errors with Redis down.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RedisServer } from "../tests/helpers/redis-server.ts";
import { herdRows } from "./cluster-herd.ts";
import { type Settings, SHIELD_CPU, startNodes } from "./cluster-nodes.ts";
import { outageRows } from "./cluster-outage.ts";
import { purgeRows } from "./cluster-purge.ts";
import { diskRows, redisHitRows } from "./cluster-tiers.ts";
import type { Child } from "./lib/proc.ts";
import { fail, printTable } from "./lib/table.ts";

const settings: Settings = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  seconds: Number(process.env.BENCH_SECONDS ?? 2),
  purges: Number(process.env.BENCH_PURGES ?? 100),
  samples: Number(process.env.BENCH_SAMPLES ?? 100),
  loadCpu: 0,
};
const REDIS_TIMEOUT_MS = process.env.BENCH_REDIS_TIMEOUT_MS;

const deadline = setTimeout(() => fail("the benchmark ran over 3 minutes"), 180_000);
deadline.unref();

const started = { children: [] as Child[], redis: [] as RedisServer[] };
const diskDir = mkdtempSync(join(tmpdir(), "bench-cluster-disk-"));

async function main(): Promise<void> {
  const nodes = await startNodes({
    redisTimeoutMs: REDIS_TIMEOUT_MS === undefined ? undefined : Number(REDIS_TIMEOUT_MS),
    diskDir,
    loadCpu: settings.loadCpu,
    started,
  });
  const rows = [
    ...(await herdRows(nodes, settings)),
    ...(await redisHitRows(nodes, settings)),
    ...(await purgeRows(nodes, settings)),
    ...(await diskRows(nodes, settings)),
    ...(await outageRows(nodes, settings)),
  ];
  for (const client of nodes.clients) client.close();
  const where = nodes.pinned
    ? `nodes on core ${SHIELD_CPU}, clients, origin, Redis and load generator on core ${settings.loadCpu}`
    : "NOT pinned: taskset unusable";
  const ok = printTable(
    `shield cluster: 3 nodes sharing one Redis on loopback (median of ${settings.rounds} rounds, ` +
      `Node ${process.version}; ${where}); baselines: herd on one node alone, memory hit, ` +
      "A's own purge answer, memory hit of the same object, load with Redis up",
    rows,
  );
  process.exitCode = ok ? 0 : 1;
}

try {
  await main();
} finally {
  for (const child of started.children) await child.stop();
  for (const server of started.redis) await server.close();
  rmSync(diskDir, { recursive: true, force: true });
}
