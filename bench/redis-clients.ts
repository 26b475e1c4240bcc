/**
 * The two maintained Redis clients for Node, `ioredis` and `redis` (node-redis), measured
 * side by side in one run for what the shield's Redis tier needs of them:
 *
 *   - latency of one GET and one HGETALL read as Buffers (the hit path reads a record's
 *     head and body with one HGETALL), for a 1 KiB and a 100 KiB value, p50 and p99 over
 *     sequential calls on one warm connection;
 *   - throughput: explicit pipelines of 100 GETs of 1 KiB, and 64 single GETs kept in
 *     flight (what concurrent hits look like: no pipeline object, one await each);
 *   - faults: a per-command timeout while the server is paused (CLIENT PAUSE), and
 *     whether the late reply is ever handed to a later command; how fast a command fails
 *     while the server is down and whether anything queues up meanwhile; how long after
 *     the server is back the first command succeeds; how long until a subscriber that
 *     was connected before the restart receives a message again; commands that timed
 *     out while latency and throughput were measured (machine stalls over 50 ms), and
 *     rejections no caller could catch.
 *
 * Both clients get the same settings: no offline queue, a 50 ms command timeout, a
 * reconnect delay of min(10 · 2^n, 100) ms, a 500 ms connect timeout. A private
 * redis-server (tests/helpers/redis-server.ts) runs pinned to CPU 1 and this process to
 * CPU 0 when taskset works. Rounds alternate which client goes first; medians of the
 * rounds are printed, each figure beside the other client's.
 *
 *   npx tsx bench/redis-clients.ts   (about 25 s; env: BENCH_ROUNDS 3)
 *
 * ioredis lost and is not a dependency: install it for the run with
 * `npm install --no-save ioredis@6.1.0` (the run says so when it is missing).
 *
 * Every reply is checked (a wrong value fails the run, exit 1); the run stops itself
 * after 3 minutes whatever happens.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createClient, RESP_TYPES } from "redis";
import { hasTaskset, type RedisServer, startRedisServer } from "../tests/helpers/redis-server.ts";
import { fail, fixed, int, median, percentile } from "./lib/table.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TIMEOUT_MS = 50;
const backoff = (attempt: number): number => Math.min(10 * 2 ** attempt, 100);
const deadline = setTimeout(() => fail("the benchmark ran over 3 minutes"), 180_000);
deadline.unref();

/** What the benchmark needs of a client, written once per library. */
interface Client {
  getBuffer(key: string): Promise<Buffer | null>;
  hgetallBuffer(key: string): Promise<Record<string, Buffer>>;
  pipelineGet(keys: readonly string[]): Promise<unknown[]>;
  set(key: string, value: string | Buffer): Promise<unknown>;
  hset(key: string, fields: Record<string, string | Buffer>): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  /** On a second connection made for it. */
  subscribe(channel: string, handler: (message: string) => void): Promise<void>;
  ready(): boolean;
  /** Commands held back while offline, when the library exposes it. */
  queued(): number | null;
  close(): Promise<void>;
}

interface Library {
  readonly name: string;
  /** How a command's timeout is set. */
  readonly timeouts: string;
  connect(url: string): Promise<Client>;
}

/**
 * The part of ioredis this benchmark uses. ioredis lost this comparison and is not a
 * dependency, so it is loaded by a name the type checker does not follow: the benchmark
 * still type-checks, and runs again once it is installed for the purpose
 * (`npm install --no-save ioredis@6.1.0`, the version measured).
 */
interface IoRedisConnection {
  status: string;
  offlineQueue: { length: number };
  connect(): Promise<void>;
  disconnect(): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
  getBuffer(key: string): Promise<Buffer | null>;
  hgetallBuffer(key: string): Promise<Record<string, Buffer>>;
  pipeline(): {
    getBuffer(key: string): unknown;
    exec(): Promise<[Error | null, unknown][] | null>;
  };
  set(key: string, value: string | Buffer): Promise<unknown>;
  hset(key: string, fields: Record<string, string | Buffer>): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
}
type IoRedisClass = new (url: string, options: object) => IoRedisConnection;

async function loadIoRedis(): Promise<IoRedisClass | null> {
  const name = "ioredis";
  try {
    return ((await import(name)) as { Redis: IoRedisClass }).Redis;
  } catch {
    return null;
  }
}

const ioredis: Library = {
  name: "ioredis",
  timeouts: "client-wide only (commandTimeout); runs from when the command is written",
  async connect(url) {
    const Redis = await loadIoRedis();
    if (Redis === null) throw new Error("ioredis is not installed");
    const options = {
      enableOfflineQueue: false,
      // In-flight commands fail when the connection drops instead of being retried.
      maxRetriesPerRequest: 0,
      commandTimeout: TIMEOUT_MS,
      connectTimeout: 500,
      lazyConnect: true,
      retryStrategy: (times: number) => backoff(times - 1),
    };
    const main = new Redis(url, options);
    const sub = new Redis(url, options);
    for (const conn of [main, sub]) conn.on("error", () => {});
    await main.connect();
    await sub.connect();
    const handlers = new Map<string, (message: string) => void>();
    sub.on("message", (channel: string, message: string) => handlers.get(channel)?.(message));
    return {
      getBuffer: (key) => main.getBuffer(key),
      hgetallBuffer: (key) => main.hgetallBuffer(key),
      pipelineGet: async (keys) => {
        const pipeline = main.pipeline();
        for (const key of keys) pipeline.getBuffer(key);
        const results = (await pipeline.exec()) ?? [];
        return results.map(([err, value]) => {
          if (err !== null) throw err;
          return value;
        });
      },
      set: (key, value) => main.set(key, value),
      hset: (key, fields) => main.hset(key, fields),
      publish: (channel, message) => main.publish(channel, message),
      subscribe: async (channel, handler) => {
        handlers.set(channel, handler);
        await sub.subscribe(channel);
      },
      ready: () => main.status === "ready" && sub.status === "ready",
      queued: () => main.offlineQueue.length,
      close: async () => {
        main.disconnect();
        sub.disconnect();
      },
    };
  },
};

const nodeRedis: Library = {
  name: "node-redis",
  timeouts: "per command (withCommandOptions: timeout, rejectInFlight) or client default",
  async connect(url) {
    const main = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 500, reconnectStrategy: (retries: number) => backoff(retries) },
    });
    main.on("error", () => {});
    const sub = main.duplicate();
    sub.on("error", () => {});
    await main.connect();
    await sub.connect();
    // Buffers for every bulk string, and a timeout that also covers a command already
    // sent (rejectInFlight): without it the timeout only bounds the wait to be sent.
    const typeMapping = { [RESP_TYPES.BLOB_STRING]: Buffer };
    // withCommandOptions' declared type drops the type mapping it is given: the proxy
    // is typed as withTypeMapping's, which carries the same mapping.
    const buffers = main.withCommandOptions({
      typeMapping,
      timeout: TIMEOUT_MS,
      rejectInFlight: true,
    }) as unknown as ReturnType<typeof main.withTypeMapping<typeof typeMapping>>;
    return {
      getBuffer: (key) => buffers.get(key),
      hgetallBuffer: (key) => buffers.hGetAll(key),
      pipelineGet: (keys) => {
        const batch = buffers.multi();
        for (const key of keys) batch.get(key);
        return batch.execAsPipeline();
      },
      set: (key, value) => main.set(key, value),
      hset: (key, fields) => main.hSet(key, fields),
      publish: (channel, message) => main.publish(channel, message),
      subscribe: (channel, handler) => sub.subscribe(channel, handler),
      ready: () => main.isReady && sub.isReady,
      queued: () => null,
      close: async () => {
        main.destroy();
        sub.destroy();
      },
    };
  },
};

const SMALL = Buffer.alloc(1024, 0x61);
const LARGE = Buffer.alloc(100 * 1024, 0x62);
const HEAD = JSON.stringify({ status: 200, headers: [["content-type", "text/plain"]] });

async function seed(client: Client): Promise<void> {
  await client.set("v:1k", SMALL);
  await client.set("v:100k", LARGE);
  await client.hset("h:1k", { h: HEAD, b: SMALL });
  await client.hset("h:100k", { h: HEAD, b: LARGE });
  for (let i = 0; i < 100; i++) await client.set(`p:${i}`, SMALL);
}

/** Sequential calls for `count` iterations; latency samples in microseconds. */
/**
 * Commands that failed (timed out, mostly: a stall of the machine longer than the 50 ms
 * timeout) while latency and throughput were measured. Counted, not fatal: the figure
 * shows how often it happened; a wrong value still fails the run.
 */
let failedUnderLoad = 0;

async function attempt<T>(call: () => Promise<T>, otherwise: T): Promise<T> {
  try {
    return await call();
  } catch {
    failedUnderLoad++;
    return otherwise;
  }
}

async function latency(call: () => Promise<void>, count: number): Promise<number[]> {
  // Warm-up: the first thousand calls of a fresh client include its JIT compilation.
  for (let i = 0; i < count / 4; i++) await attempt(call, undefined);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await attempt(call, undefined);
    samples.push((performance.now() - start) * 1000);
  }
  return samples;
}

function checkBuffer(got: Buffer | null | undefined, want: Buffer, what: string): void {
  if (got === null || got === undefined || !got.equals(want)) fail(`${what}: wrong value`);
}

/** Operations per second over `ms`. */
async function throughput(batch: () => Promise<number>, ms: number): Promise<number> {
  const end = performance.now() + ms;
  const start = performance.now();
  let ops = 0;
  while (performance.now() < end) ops += await attempt(batch, 0);
  return ops / ((performance.now() - start) / 1000);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, limitMs: number): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > limitMs) return Number.NaN;
    await sleep(1);
  }
  return performance.now() - start;
}

type Figures = Map<string, number>;

/**
 * A rejection nobody could catch is a fault of the client (Node exits on one): counted
 * per client and phase instead of ending the run, and reported as a figure.
 */
const at = { library: "", phase: "" };
const unhandled = new Map<string, number>();
process.on("unhandledRejection", (reason) => {
  unhandled.set(at.library, (unhandled.get(at.library) ?? 0) + 1);
  const why = reason instanceof Error ? reason.message : String(reason);
  process.stderr.write(`unhandled rejection from ${at.library} during ${at.phase}: ${why}\n`);
});

async function measure(library: Library, server: RedisServer): Promise<Figures> {
  const figures: Figures = new Map();
  at.library = library.name;
  at.phase = "connect";
  const before = unhandled.get(library.name) ?? 0;
  failedUnderLoad = 0;
  const client = await library.connect(server.url);
  await seed(client);
  const keys = Array.from({ length: 100 }, (_, i) => `p:${i}`);

  const cases = [
    ["GET 1 KiB", async () => checkBuffer(await client.getBuffer("v:1k"), SMALL, "GET")],
    ["GET 100 KiB", async () => checkBuffer(await client.getBuffer("v:100k"), LARGE, "GET")],
    [
      "HGETALL 1 KiB",
      async () => checkBuffer((await client.hgetallBuffer("h:1k")).b, SMALL, "HGETALL"),
    ],
    [
      "HGETALL 100 KiB",
      async () => checkBuffer((await client.hgetallBuffer("h:100k")).b, LARGE, "HGETALL"),
    ],
  ] as const;
  for (const [name, call] of cases) {
    at.phase = name;
    const samples = await latency(call, name.includes("100") ? 1000 : 5000);
    figures.set(`${name} p50 (µs)`, percentile(samples, 50));
    figures.set(`${name} p99 (µs)`, percentile(samples, 99));
  }

  at.phase = "pipeline";
  figures.set(
    "pipeline of 100 GET 1 KiB (ops/s)",
    await throughput(async () => {
      const values = await client.pipelineGet(keys);
      checkBuffer(values[99] as Buffer, SMALL, "pipeline");
      return values.length;
    }, 500),
  );
  at.phase = "in flight";
  figures.set(
    "64 single GET 1 KiB in flight (ops/s)",
    await throughput(async () => {
      const values = await Promise.all(keys.slice(0, 64).map((key) => client.getBuffer(key)));
      checkBuffer(values[63], SMALL, "in flight");
      return values.length;
    }, 500),
  );

  // A slow server: the command must give up at the timeout, and the connection must not
  // hand the late reply to the next command.
  figures.set("commands failed while measuring (timeouts)", failedUnderLoad);
  at.phase = "paused";
  await client.set("t:a", "a");
  await client.set("t:b", "b");
  await server.pause(300);
  const paused = performance.now();
  const timedOut = await client.getBuffer("t:a").then(
    () => Number.NaN,
    () => performance.now() - paused,
  );
  figures.set("GET while paused: rejected after (ms)", timedOut);
  await sleep(400);
  // The late reply to "t:a" must not be taken for any later command's.
  let wrong = 0;
  for (let i = 0; i < 5; i++) {
    const value = await client.getBuffer("t:b").catch(() => undefined);
    if (value !== undefined && value?.toString() !== "b") wrong++;
  }
  figures.set("wrong replies after the pause (of 5)", wrong);

  // Subscribe before the restart; after it a message must arrive again.
  let heardAt = Number.NaN;
  await client.subscribe("bench", () => {
    if (Number.isNaN(heardAt)) heardAt = performance.now();
  });

  // Down: commands fail at once and nothing queues.
  at.phase = "down";
  await server.stop();
  await until(() => !client.ready(), 2000);
  const failures: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const start = performance.now();
    await client.getBuffer("v:1k").then(
      () => fail(`${library.name} answered while the server was down`),
      () => failures.push((performance.now() - start) * 1000),
    );
  }
  figures.set("GET while down: rejected after, p50 (µs)", percentile(failures, 50));
  figures.set("GET while down: rejected after, max (µs)", Math.max(...failures));
  figures.set("queued while down, after 1000 GETs", client.queued() ?? Number.NaN);
  await sleep(200);

  at.phase = "restart";
  await server.start();
  const back = performance.now();
  let firstOk = Number.NaN;
  while (performance.now() - back < 3000) {
    const value = await client.getBuffer("t:b").catch(() => undefined);
    if (value !== undefined) {
      firstOk = performance.now() - back;
      break;
    }
    await sleep(1);
  }
  figures.set("first GET ok after restart (ms)", firstOk);
  heardAt = Number.NaN;
  const publishing = setInterval(() => void client.publish("bench", "x").catch(() => {}), 2);
  await until(() => !Number.isNaN(heardAt), 3000);
  clearInterval(publishing);
  figures.set("first message after restart (ms)", heardAt - back);
  figures.set("resubscribed after restart (1 yes)", Number.isNaN(heardAt) ? 0 : 1);
  at.phase = "close";
  await client.close();
  await sleep(50);
  figures.set("unhandled rejections", (unhandled.get(library.name) ?? 0) - before);
  return figures;
}

function pinSelf(cpu: number): boolean {
  const result = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(process.pid)]);
  return result.status === 0;
}

async function main(): Promise<void> {
  if ((await loadIoRedis()) === null) {
    fail(
      "ioredis is not installed (it lost this comparison and is not a dependency): " +
        "npm install --no-save ioredis@6.1.0, then run again",
    );
  }
  const pinned = hasTaskset() && pinSelf(0);
  const server = await startRedisServer({ cpu: pinned ? 1 : undefined });
  const libraries = [ioredis, nodeRedis];
  const results = new Map<string, Figures[]>(libraries.map((lib) => [lib.name, []]));
  const info = await server.command("INFO", "server");
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? libraries : [...libraries].reverse();
      for (const library of order) {
        await server.command("FLUSHALL");
        results.get(library.name)?.push(await measure(library, server));
        process.stderr.write(`round ${round + 1}: ${library.name} done\n`);
      }
    }
  } finally {
    await server.close();
  }
  const names = [...(results.get("ioredis")?.[0]?.keys() ?? [])];
  const rows = names.map((figure) => {
    const cells = libraries.map((lib) => {
      const values = (results.get(lib.name) ?? []).map((f) => f.get(figure) ?? Number.NaN);
      const show = (value: number) =>
        Number.isNaN(value) ? "n/a" : figure.includes("ops/s") ? int(value) : fixed(value, 1);
      // The rounds' spread beside the median: one noisy round shows as a wide range.
      return `${show(median(values))} (${show(Math.min(...values))}–${show(Math.max(...values))})`;
    });
    return [figure, ...cells];
  });
  const versions = libraries.map((lib) => `${lib.name} ${versionOf(lib.name)}`);
  console.log(
    `Redis clients, median (min–max) of ${ROUNDS} alternating rounds (${versions.join(", ")}, ` +
      `redis-server ${redisVersion}, Node ${process.version}; ` +
      `${pinned ? "bench on CPU 0, redis-server on CPU 1" : "NOT pinned: taskset unusable"})`,
  );
  console.log("");
  const head = ["figure", ...libraries.map((lib) => lib.name)];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  console.log(line(head));
  console.log(
    `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`,
  );
  for (const row of rows) console.log(line(row));
  console.log("");
  console.log("command timeouts:");
  for (const lib of libraries) console.log(`  ${lib.name}: ${lib.timeouts}`);
}

function versionOf(name: string): string {
  const pkg = name === "node-redis" ? "redis" : name;
  const text = readFileSync(
    new URL(`../node_modules/${pkg}/package.json`, import.meta.url),
    "utf8",
  );
  return (JSON.parse(text) as { version: string }).version;
}

await main().catch((err: unknown) =>
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err)),
);
process.exit(0);
