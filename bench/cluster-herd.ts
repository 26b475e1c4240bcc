/**
 * The herd of bench/cluster.ts: concurrent cold requests for one key, one warm
 * connection each, spread round-robin over the given nodes (one node for the baseline).
 * The clients are raw keep-alive sockets (bench/lib/raw.ts) connected and answered once
 * before the burst, so the figure is the cache's and not a thousand handshakes'. Every
 * answer must be a 200 whose body is byte for byte one the origin sent.
 */
import { createHash } from "node:crypto";
import { BENCH_HOST, spread } from "./cluster-http.ts";
import { BODY_BYTES, type Nodes, progress, type Settings } from "./cluster-nodes.ts";
import { getJson } from "./lib/http.ts";
import { type RawAnswer, RawClient } from "./lib/raw.ts";
import { fail, fixed, int, median, percentile, type Row } from "./lib/table.ts";

const HERD_CLIENTS = 1000;
const ORIGIN_DELAY_MS = 500;
/** Target: the herd's p99 at most the origin's delay plus this. */
const HERD_SLACK_MS = 100;

/** What bench/lib/serve-origin.ts counts. */
interface OriginStats {
  readonly requests: number;
  /** SHA-256 of every body it sent for a /stampede/ path. */
  readonly sent: string[];
}

export interface HerdRun {
  readonly originRequests: number;
  /** Client latency, write of the request to the body's last byte, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Answers served from another node's fetch (Cache-Status detail=cluster). */
  readonly fromCluster: number;
}

const sha = (body: Buffer): string => createHash("sha256").update(body).digest("hex");

/**
 * `clients` requests for `path` at once, client i on ports[i % ports.length]. The request
 * target is in absolute form (RFC 9112 §3.2.2), whose authority the shield takes in place
 * of Host: every node then keys the same URL, as it does behind the edge.
 */
export async function herd(
  originUrl: string,
  ports: readonly number[],
  path: string,
  clients: number,
  bodyBytes: number,
): Promise<HerdRun> {
  const open = await Promise.all(
    Array.from({ length: clients }, (_, index) =>
      RawClient.open(ports[index % ports.length] as number),
    ),
  );
  for (const answer of await Promise.all(open.map((client) => client.get("/__shield/health")))) {
    if (answer.status !== 200) fail(`warming a herd connection: status ${answer.status}`);
  }
  const before = await getJson<OriginStats>(`${originUrl}/__origin/stats`);
  const target = `http://${BENCH_HOST}${path}`;
  // Every request is written in this one loop, each as soon as it is made.
  const pending: Promise<RawAnswer>[] = [];
  for (const client of open) pending.push(client.get(target));
  const answers = await Promise.all(pending);
  for (const client of open) client.close();
  const after = await getJson<OriginStats>(`${originUrl}/__origin/stats`);
  const sent = new Set(after.sent.slice(before.sent.length));
  for (const answer of answers) {
    const cacheStatus = answer.headers.get("cache-status") ?? "";
    if (answer.status !== 200) fail(`herd on ${path}: status ${answer.status} (${cacheStatus})`);
    if (answer.body.length !== bodyBytes || !sent.has(sha(answer.body))) {
      fail(`herd on ${path}: a body differs from every body the origin sent (${cacheStatus})`);
    }
  }
  const latencies = answers.map((answer) => answer.ms);
  return {
    originRequests: after.requests - before.requests,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    fromCluster: answers.filter((answer) =>
      answer.headers.get("cache-status")?.includes("detail=cluster"),
    ).length,
  };
}

export async function herdRows(nodes: Nodes, settings: Settings): Promise<Row[]> {
  const clusterPorts = nodes.cluster.map((child) => child.port);
  const sides = [
    { name: "cluster", ports: clusterPorts },
    { name: "alone", ports: [nodes.alone.port] },
  ];
  const path = (label: string) => `/stampede/${ORIGIN_DELAY_MS}/${label}-${process.pid}`;
  // One unreported herd on each side first: a fresh node spends far more CPU on its
  // first thousand requests than on later ones.
  for (const side of sides) {
    await herd(nodes.origin.url, side.ports, path(`warm-${side.name}`), HERD_CLIENTS, BODY_BYTES);
  }
  const runs = new Map<string, HerdRun[]>(sides.map((side) => [side.name, []]));
  for (let round = 0; round < settings.rounds; round++) {
    for (let turn = 0; turn < sides.length; turn++) {
      const side = sides[(turn + round) % sides.length]!;
      const label = `${side.name}-${round}`;
      const run = await herd(nodes.origin.url, side.ports, path(label), HERD_CLIENTS, BODY_BYTES);
      runs.get(side.name)!.push(run);
      progress(
        `herd round ${round + 1} ${side.name.padEnd(7)}: ${run.originRequests} origin fetch(es), ` +
          `p50 ${fixed(run.p50)} p99 ${fixed(run.p99)} max ${fixed(run.max)} ms, ` +
          `${run.fromCluster} from another node's fetch`,
      );
    }
  }
  const cluster = runs.get("cluster")!;
  const alone = runs.get("alone")!;
  const med = (list: HerdRun[], pick: (run: HerdRun) => number) => median(list.map(pick));
  const worst = Math.max(...cluster.map((run) => run.originRequests));
  const p99 = med(cluster, (run) => run.p99);
  const who = `${int(HERD_CLIENTS)} clients on 3 nodes, ${ORIGIN_DELAY_MS} ms origin`;
  return [
    {
      figure: `herd: ${who}: origin fetches (worst round)`,
      value: int(worst),
      baseline: int(Math.max(...alone.map((run) => run.originRequests))),
      ratio: "—",
      target: "1",
      pass: worst === 1,
    },
    {
      figure: `herd: p50 latency, ms (spread ${spread(cluster.map((run) => run.p50))})`,
      value: fixed(med(cluster, (run) => run.p50)),
      baseline: fixed(med(alone, (run) => run.p50)),
      ratio: `${(med(cluster, (run) => run.p50) / med(alone, (run) => run.p50)).toFixed(2)}×`,
      target: "—",
    },
    {
      figure: `herd: p99 latency, ms (spread ${spread(cluster.map((run) => run.p99))})`,
      value: fixed(p99),
      baseline: fixed(med(alone, (run) => run.p99)),
      ratio: `${(p99 / med(alone, (run) => run.p99)).toFixed(2)}×`,
      target: `≤ ${ORIGIN_DELAY_MS + HERD_SLACK_MS}`,
      pass: p99 <= ORIGIN_DELAY_MS + HERD_SLACK_MS,
    },
    {
      figure: "herd: answers served from another node's fetch (detail=cluster)",
      value: int(med(cluster, (run) => run.fromCluster)),
      baseline: int(med(alone, (run) => run.fromCluster)),
      ratio: "—",
      target: "—",
    },
  ];
}
