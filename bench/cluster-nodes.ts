/**
 * The processes of bench/cluster.ts and what every part of it shares: a private Redis,
 * the loopback origin (bench/lib/serve-origin.ts) and five shield nodes
 * (bench/lib/serve-shield.ts, built as `npm run shield` builds the shield), each a child
 * process: three sharing Redis (A, B, C), one alone with memory only, one with a disk
 * tier and a memory tier too small for the disk figure's object.
 */
import { type RedisServer, startRedisServer } from "../tests/helpers/redis-server.ts";
import { NodeClient, nodeConfig } from "./cluster-http.ts";
import { sleep } from "./lib/http.ts";
import { type Child, pinProcess, startChild } from "./lib/proc.ts";
import { fail } from "./lib/table.ts";
import { haveTaskset } from "./lib/wrk.ts";

/** Body of every /stampede/ answer of the origin. */
export const BODY_BYTES = 10 * 1024;
/** The core of every shield node; the other one runs everything else. */
export const SHIELD_CPU = 1;

/** How long and how often each part measures. */
export interface Settings {
  readonly rounds: number;
  /** Length of one load run, s. */
  readonly seconds: number;
  /** Purges per round. */
  readonly purges: number;
  /** Redis hits per size and round. */
  readonly samples: number;
  /** The core of this process, the origin, Redis and the load generator. */
  readonly loadCpu: number;
}

export interface Nodes {
  readonly origin: Child;
  readonly cluster: readonly [Child, Child, Child];
  readonly clients: readonly [NodeClient, NodeClient, NodeClient];
  readonly alone: Child;
  readonly disk: Child;
  readonly redis: RedisServer;
  /** Whether the processes are pinned (taskset works here). */
  readonly pinned: boolean;
}

export interface NodeOptions {
  /** shield.redis.timeoutMs of the cluster nodes; undefined: the schema's default. */
  readonly redisTimeoutMs: number | undefined;
  /** The disk node's directory. */
  readonly diskDir: string;
  readonly loadCpu: number;
  /** Where every process started is recorded, so that the caller stops it. */
  readonly started: { readonly children: Child[]; readonly redis: RedisServer[] };
}

export const kib = (bytes: number): string => `${bytes / 1024} KiB`;
export const progress = (line: string): boolean => process.stderr.write(`  ${line}\n`);
export const signedMs = (ms: number): string =>
  `${ms >= 0 ? "+" : "−"}${Math.abs(ms).toFixed(2)} ms`;

export async function startNodes(options: NodeOptions): Promise<Nodes> {
  const pinned = haveTaskset() && pinProcess(process.pid, String(options.loadCpu));
  const cpu = (core: number) => (pinned ? { cpu: core } : {});
  const server = await startRedisServer(cpu(options.loadCpu));
  options.started.redis.push(server);
  const origin = await startChild(
    "serve-origin.ts",
    [String(BODY_BYTES)],
    [],
    cpu(options.loadCpu),
  );
  options.started.children.push(origin);
  // One at a time: each start builds the same bundle into the same file.
  const node = async (shield: Record<string, unknown>): Promise<Child> => {
    const child = await startChild(
      "serve-shield.ts",
      [nodeConfig(origin.url, shield)],
      [],
      cpu(SHIELD_CPU),
    );
    options.started.children.push(child);
    return child;
  };
  const shared = {
    url: server.url,
    keyPrefix: "bench:",
    ...(options.redisTimeoutMs === undefined ? {} : { timeoutMs: options.redisTimeoutMs }),
  };
  const cluster = [
    await node({ name: "node-a", redis: shared }),
    await node({ name: "node-b", redis: shared }),
    await node({ name: "node-c", redis: shared }),
  ] as const;
  const alone = await node({ name: "alone" });
  const disk = await node({
    name: "disk",
    // Smaller than the object: every hit reads the disk tier.
    memory: { maxObjectBytes: 64 * 1024 },
    disk: { dir: options.diskDir, maxBytes: 256 * 1024 * 1024, maxObjectBytes: 16 * 1024 * 1024 },
  });
  const clients = cluster.map((child) => new NodeClient(child.url)) as [
    NodeClient,
    NodeClient,
    NodeClient,
  ];
  await redisUp(clients);
  const where = pinned
    ? `nodes on core ${SHIELD_CPU}; clients, origin, Redis and load generator on core ${options.loadCpu}`
    : "NOT pinned: taskset unusable";
  progress(`started: Redis ${server.url}, origin ${origin.url}, 5 nodes (${where})`);
  return { origin, cluster, clients, alone, disk, redis: server, pinned };
}

/** Until every cluster node reports its Redis tier up. */
export async function redisUp(clients: readonly NodeClient[]): Promise<number> {
  const started = performance.now();
  for (;;) {
    const states = await Promise.all(
      clients.map(async (client) => (await client.health()).tiers.redis),
    );
    if (states.every((state) => state?.state === "up")) return performance.now() - started;
    if (performance.now() - started > 10_000) fail("the nodes did not see Redis up in 10 s");
    await sleep(20);
  }
}
