/**
 * The lower tiers of bench/cluster.ts:
 *
 *   - a Redis hit: a key node A stored (from the origin), read first by node B, which
 *     finds it in Redis; B's second read of the same key, from its memory, is the
 *     baseline. A fresh key per sample, so that every first read really is a Redis read.
 *   - a disk hit: a 100 KiB object on a node whose memory tier takes nothing that large,
 *     so every hit reads the disk tier, under closed-loop load (bench/lib/wrk.ts); the
 *     baseline is the same object hit in memory on a node with memory alone.
 *
 * Every answer is checked: status, the whole body byte for byte, and Cache-Status naming
 * the tier it should come from.
 */
import { cacheStatusOf, type NodeClient, spread } from "./cluster-http.ts";
import { kib, type Nodes, progress, type Settings, signedMs } from "./cluster-nodes.ts";
import { patternBody } from "./lib/body.ts";
import { get, sleep } from "./lib/http.ts";
import type { Child } from "./lib/proc.ts";
import { fail, fixed, int, median, percentile, type Row } from "./lib/table.ts";
import { type PinnedLoadResult, pinnedLoad } from "./lib/wrk.ts";

const REDIS_SIZES = [1024, 100 * 1024];
const DISK_BYTES = 100 * 1024;
const CONNECTIONS = 64;

/** Keys stored on A before B reads them; then a pause for A's Redis writes to land. */
const BATCH = 50;
const LAND_MS = 50;

export interface HitLatencies {
  /** B's first read of each key: a hit from Redis, ms. */
  readonly redis: number[];
  /** B's second read of the same key: a hit from memory, ms. */
  readonly memory: number[];
}

/** `samples` fresh keys of `size` bytes: stored through `writer`, read twice on `reader`. */
export async function redisHits(
  writer: NodeClient,
  reader: NodeClient,
  size: number,
  samples: number,
  tag: string,
): Promise<HitLatencies> {
  const body = patternBody(size);
  const out: HitLatencies = { redis: [], memory: [] };
  for (let start = 0; start < samples; start += BATCH) {
    const paths: string[] = [];
    for (let index = start; index < Math.min(samples, start + BATCH); index++) {
      paths.push(`/obj/${size}/redis-${tag}-${index}`);
    }
    for (const path of paths) expectBody(await writer.get(path), path, body, "");
    await sleep(LAND_MS);
    for (const path of paths) {
      const fromRedis = await reader.get(path);
      expectBody(fromRedis, path, body, "detail=redis");
      const fromMemory = await reader.get(path);
      expectBody(fromMemory, path, body, "hit");
      if (cacheStatusOf(fromMemory).includes("detail=redis")) {
        fail(`${path}: the second read on ${reader.url} came from Redis again`);
      }
      out.redis.push(fromRedis.ms);
      out.memory.push(fromMemory.ms);
    }
  }
  return out;
}

function expectBody(
  answer: Awaited<ReturnType<NodeClient["get"]>>,
  path: string,
  body: Buffer,
  cacheStatus: string,
): void {
  const status = cacheStatusOf(answer);
  if (answer.status !== 200) fail(`${path}: status ${answer.status} (${status})`);
  if (!answer.body.equals(body)) fail(`${path}: the body differs from the origin's`);
  if (!status.includes(cacheStatus)) fail(`${path}: Cache-Status "${status}", not ${cacheStatus}`);
}

/** The validated hit a load run compares every answer with. */
export interface HitSpec {
  readonly child: Child;
  readonly path: string;
  readonly size: number;
  readonly rawHeaders: string[];
}

/**
 * Store `path` on the node and wait until a hit is served from `tier` ("disk" or
 * "memory"), checked byte for byte; its raw header list is what load runs compare with.
 */
export async function warmHit(
  child: Child,
  path: string,
  size: number,
  tier: "disk" | "memory",
): Promise<HitSpec> {
  const body = patternBody(size);
  for (let attempt = 0; attempt < 50; attempt++) {
    const answer = await get(child.url + path);
    const status = String(answer.headers["cache-status"] ?? "");
    if (answer.status !== 200) fail(`${child.url}${path}: status ${answer.status} (${status})`);
    if (!answer.body.equals(body)) fail(`${child.url}${path}: the body differs from the origin's`);
    const fromDisk = status.includes("detail=disk");
    if (status.includes("hit") && fromDisk === (tier === "disk")) {
      return { child, path, size, rawHeaders: answer.rawHeaders };
    }
    // The disk tier's write lands shortly after the fill that made it.
    await sleep(20);
  }
  return fail(`${child.url}${path}: no ${tier} hit after 50 tries`);
}

/** One closed-loop run of hits, every answer checked (bench/lib/wrk.ts). */
export async function hitLoad(
  spec: HitSpec,
  seconds: number,
  connections: number,
  loadCpu: number,
  tier: "disk" | "memory",
): Promise<PinnedLoadResult> {
  const result = await pinnedLoad({
    url: spec.child.url + spec.path,
    seconds,
    connections,
    pid: spec.child.pid,
    cpu: loadCpu,
    expect: {
      status: 200,
      length: spec.size,
      cacheStatus: tier === "disk" ? "detail=disk" : "hit",
      rawHeaders: spec.rawHeaders,
    },
  });
  // Still the right bytes, from the right tier, after the run.
  await warmHit(spec.child, spec.path, spec.size, tier);
  return result;
}

export async function redisHitRows(nodes: Nodes, settings: Settings): Promise<Row[]> {
  const [writer, reader] = nodes.clients;
  await redisHits(writer, reader, REDIS_SIZES[0]!, settings.samples, "warm");
  const runs = new Map<number, HitLatencies[]>(REDIS_SIZES.map((size) => [size, []]));
  for (let round = 0; round < settings.rounds; round++) {
    for (let turn = 0; turn < REDIS_SIZES.length; turn++) {
      const size = REDIS_SIZES[(turn + round) % REDIS_SIZES.length]!;
      const run = await redisHits(writer, reader, size, settings.samples, `${round}`);
      runs.get(size)!.push(run);
      progress(
        `Redis hit round ${round + 1} ${kib(size).padEnd(7)}: p50 ${fixed(percentile(run.redis, 50), 2)} ` +
          `p99 ${fixed(percentile(run.redis, 99), 2)} ms; memory hit p50 ${fixed(percentile(run.memory, 50), 2)} ` +
          `p99 ${fixed(percentile(run.memory, 99), 2)} ms`,
      );
    }
  }
  const rows: Row[] = [];
  for (const size of REDIS_SIZES) {
    const list = runs.get(size)!;
    for (const rank of [50, 99]) {
      const redisMs = list.map((run) => percentile(run.redis, rank));
      const memoryMs = median(list.map((run) => percentile(run.memory, rank)));
      rows.push({
        figure: `Redis hit, ${kib(size)}, first read on B of what A stored: p${rank} ms (spread ${spread(redisMs, 2)})`,
        value: fixed(median(redisMs), 2),
        baseline: fixed(memoryMs, 2),
        ratio: signedMs(median(redisMs) - memoryMs),
        target: "—",
      });
    }
  }
  return rows;
}

export async function diskRows(nodes: Nodes, settings: Settings): Promise<Row[]> {
  const path = `/obj/${DISK_BYTES}/disk-${process.pid}`;
  // The disk node's first read is the miss that stores it (on disk only: too large for
  // its memory tier); the memory node's is the miss that stores it in memory.
  const sides = [
    { tier: "disk" as const, spec: await warmHit(nodes.disk, path, DISK_BYTES, "disk") },
    { tier: "memory" as const, spec: await warmHit(nodes.alone, path, DISK_BYTES, "memory") },
  ];
  for (const side of sides) await hitLoad(side.spec, 1, CONNECTIONS, settings.loadCpu, side.tier);
  const runs = new Map<string, PinnedLoadResult[]>(sides.map((side) => [side.tier, []]));
  let tool = "";
  for (let round = 0; round < settings.rounds; round++) {
    for (let turn = 0; turn < sides.length; turn++) {
      const side = sides[(turn + round) % sides.length]!;
      const run = await hitLoad(
        side.spec,
        settings.seconds,
        CONNECTIONS,
        settings.loadCpu,
        side.tier,
      );
      tool = run.tool;
      runs.get(side.tier)!.push(run);
      progress(
        `disk round ${round + 1} ${side.tier.padEnd(6)}: ${int(run.rps)} req/s, p99 ${fixed(run.p99, 2)} ms, ` +
          `server ${fixed(run.cpuUs)} µs/req at ${run.cpuPct}% CPU`,
      );
    }
  }
  const disk = runs.get("disk")!;
  const memory = runs.get("memory")!;
  const ratios = disk.map((run, index) => run.rps / memory[index]!.rps);
  const ratio = median(ratios);
  const med = (list: PinnedLoadResult[], pick: (run: PinnedLoadResult) => number) =>
    median(list.map(pick));
  const by = `${tool === "wrk" ? "wrk -t1" : "autocannon"}, ${CONNECTIONS} connections`;
  return [
    {
      figure: `disk hit, ${kib(DISK_BYTES)}: req/s (${by}; ratio spread ${spread(ratios, 2)})`,
      value: int(med(disk, (run) => run.rps)),
      baseline: int(med(memory, (run) => run.rps)),
      ratio: `${ratio.toFixed(2)}×`,
      target: "≥ 0.50×",
      pass: ratio >= 0.5,
    },
    {
      figure: `disk hit, ${kib(DISK_BYTES)}: p99 ms`,
      value: fixed(
        med(disk, (run) => run.p99),
        2,
      ),
      baseline: fixed(
        med(memory, (run) => run.p99),
        2,
      ),
      ratio: `${(med(disk, (run) => run.p99) / med(memory, (run) => run.p99)).toFixed(2)}×`,
      target: "—",
    },
    {
      figure: `disk hit, ${kib(DISK_BYTES)}: server CPU µs/req`,
      value: fixed(med(disk, (run) => run.cpuUs)),
      baseline: fixed(med(memory, (run) => run.cpuUs)),
      ratio: `${(med(disk, (run) => run.cpuUs) / med(memory, (run) => run.cpuUs)).toFixed(2)}×`,
      target: "—",
    },
  ];
}
