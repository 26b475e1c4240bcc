/**
 * Shield under slow clients and hostile input: two tables, each figure beside a baseline
 * measured in the same run.
 *
 * 1. Miss latency while clients stall on large bodies. The origin serves `/video/<id>`
 *    (64 MiB, Cache-Control: no-store, streamed with backpressure) and small cacheable
 *    misses `/small/<id>` (1 KiB after 5 ms; every path new, so every one is a miss). The
 *    shield has shield.origin.connections 8 and shield.server.sendTimeoutMs 1,000
 *    (queueTimeoutMs 5,000 and maxQueue 1,024: their defaults). Measured: latency (write →
 *    last body byte, on warm raw keep-alive sockets, bench/lib/raw.ts) of a sequence of
 *    small misses, 4 in flight, p50/p99/max over every answer (200 or 503), and how many
 *    were refused 503 origin_busy. Phases alternate in rounds: idle (no other client: the
 *    baseline, at most 200 misses), then stalled: 16 raw TCP clients each GET a
 *    `/video/<id>`, read the response head, and read nothing more. A client the shield
 *    cuts is replaced at once, so 16 stalled readers press on 8 connections the whole
 *    phase; the cut is seen at the origin (that id's transfer closes before its end; the
 *    client, not reading, cannot see it). A stalled phase sends misses for 8 s (at most
 *    200), about 16 of them, so its p99 is its max. Also reported: stalled clients cut,
 *    how long each had held its origin connection (origin's clock, request → cut), the
 *    longest queue for a connection. Control (one phase, one miss per client): the same
 *    stall against a shield with sendTimeoutMs at its default (10 s, twice
 *    queueTimeoutMs): no stalled reader lets go in time, so a miss can only wait out
 *    queueTimeoutMs for its 503 (before the queue was bounded, it waited for ever).
 *
 * 2. RSS while distinct ~15 KB URLs (15,000 bytes: under Node's 16 KiB request-head limit,
 *    also after the shield's forwarding fields) are requested: 100,000 plain ones that the
 *    origin answers with a 10-byte 404, Cache-Control: private (never shared, so each key
 *    is remembered hit-for-miss); then 20,000 transform URLs `/img/width=100/…/<path>.jpg`
 *    whose sources it answers the same way (the transform URL memo, image_urls, and the
 *    variants-per-source table, image_variants, fill too; transforms cost twice the time,
 *    and 20,000 already overflow each table 35 to 450 times). A fresh shield per flood,
 *    default tables and memory tier, run with --expose-gc. VmRSS (/proc) and
 *    shield_table_bytes / shield_table_max_bytes (/__shield/metrics) are read idle after
 *    2,000 short URLs (the baseline), after half the flood (paused), at its end and 2 s
 *    later; "after GC" figures are read 1 s after two forced full GCs (GET
 *    /__bench/state?gc=1; RSS keeps falling for a while after one). Keeping what clients
 *    sent would cost at least the URL per request: growth is shown beside those bytes. The
 *    load: undici Pool, 32 keep-alive connections, from this process, pinned to CPU 0
 *    together with the origin, the shield to CPU 1 (`taskset -a -p -c <cpu> <pid>` on the
 *    running processes, every thread: proc.ts starts children without taskset). Without
 *    a usable taskset the table says so and everything runs unpinned.
 *
 *   npx tsx bench/shield-slow-clients.ts   (2 to 2.5 min; env: BENCH_PARTS "1,2",
 *     BENCH_ROUNDS 3, BENCH_MISSES 200, BENCH_IN_FLIGHT 4, BENCH_PHASE_SECONDS 8,
 *     BENCH_STALLED 16, BENCH_CONNECTIONS 8, BENCH_SEND_TIMEOUT_MS 1000, BENCH_CONTROL 1
 *     (0: no control phase), BENCH_VIDEO_MIB 64, BENCH_URLS 100000, BENCH_IMAGE_URLS
 *     20000, BENCH_URL_BYTES 15000)
 *
 * The shield runs as `npm run shield` runs it (bench/lib/serve-shield.ts: the
 * esbuild bundle of createShield + createShieldServer), the origin in another child
 * (bench/lib/serve-stream-origin.ts). Every answer is checked: a small miss must be 200
 * with its 1 KiB and a Cache-Status saying it was fetched and stored, or 503 origin_busy;
 * a stalled client's head 200, or 503 origin_busy; a flood answer 404 with the origin's
 * body (for a transform, the shield's source_error). The origin must have seen one
 * request per small miss answered 200, the shield must release every origin connection
 * and queued request within 15 s of the stalled clients leaving, and
 * shield_internal_errors_total must stay 0. Anything else fails the run (exit 1).
 *
 * Targets (this benchmark's own): with stalled readers, every miss answered within
 * queueTimeoutMs + 1 s, at least half of them 200 (worst round); no stalled reader holds
 * an origin connection beyond twice sendTimeoutMs + 1 s (the shield checks for progress
 * every sendTimeoutMs, so it cuts between one and two of them after a reader stops). After each flood, every table within
 * its bound; RSS after GC no more above idle than the sum of the bounds of the tables the
 * flood fills (they count 2 bytes a character; V8 keeps these URLs in 1); and the second
 * half of the flood adding at most 5 % of its URLs' bytes.
 */
import { spawnSync } from "node:child_process";
import { Agent } from "node:http";
import { connect, type Socket } from "node:net";
import { Pool } from "undici";
import { parseConfig } from "../core/config/index.ts";
import { get, sleep } from "./lib/http.ts";
import { type Child, cpuMs, rss, startChild } from "./lib/proc.ts";
import { RawClient } from "./lib/raw.ts";
import {
  fail,
  fixed,
  int,
  median,
  mib,
  percentile,
  printTable,
  type Row,
  ratio,
} from "./lib/table.ts";

const env = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) fail(`${name} must be a number ≥ 0`);
  return v;
};
const PARTS = (process.env.BENCH_PARTS ?? "1,2").split(",").map((s) => s.trim());
const ROUNDS = env("BENCH_ROUNDS", 3);
const MISSES = env("BENCH_MISSES", 200);
const IN_FLIGHT = env("BENCH_IN_FLIGHT", 4);
const STALLED = env("BENCH_STALLED", 16);
const CONNECTIONS = env("BENCH_CONNECTIONS", 8);
const SEND_TIMEOUT_MS = env("BENCH_SEND_TIMEOUT_MS", 1_000);
const PHASE_SECONDS = env("BENCH_PHASE_SECONDS", 8);
const CONTROL = env("BENCH_CONTROL", 1) !== 0;
const VIDEO_BYTES = env("BENCH_VIDEO_MIB", 64) * 1024 * 1024;
const URLS = env("BENCH_URLS", 100_000);
const IMAGE_URLS = env("BENCH_IMAGE_URLS", 20_000);
const URL_BYTES = env("BENCH_URL_BYTES", 15_000);

const SMALL_BYTES = 1024;
const SMALL_DELAY_MS = 5;
/** The defaults this benchmark leaves alone, read from the schema. */
const DEFAULTS = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
}).shield;
/** The longest a miss may wait for a connection (shield.origin.queueTimeoutMs). */
const QUEUE_TIMEOUT_MS = DEFAULTS.origin.queueTimeoutMs;
const SLACK_MS = 1_000;
const POLL_MS = 100;
const FLOOD_CONNECTIONS = 32;
const WARM_URLS = 2_000;

interface OriginStats {
  readonly small: number;
  readonly notFound: number;
  readonly video: { started: number; finished: number; active: number };
  /** Videos whose transfer closed before its end: id, and how long it had run (ms). */
  readonly aborted: { id: string; ms: number }[];
}
interface ShieldState {
  readonly memory: Record<"rss" | "heapTotal" | "heapUsed" | "external" | "arrayBuffers", number>;
  readonly waiting: Record<string, number>;
  readonly flights: number;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
const originStats = async (origin: Child): Promise<OriginStats> => {
  const r = await get(`${origin.url}/__origin/stats`, keepAlive);
  if (r.status !== 200) fail(`origin stats: status ${r.status}`);
  return JSON.parse(r.body.toString()) as OriginStats;
};
const shieldState = async (shield: Child, gc = false): Promise<ShieldState> => {
  const r = await get(`${shield.url}/__bench/state${gc ? "?gc=1" : ""}`, keepAlive);
  if (r.status !== 200) fail(`shield state: status ${r.status}`);
  return JSON.parse(r.body.toString()) as ShieldState;
};

/** The Prometheus samples of the shield's metrics text, by full name with labels. */
async function metrics(shield: Child): Promise<Map<string, number>> {
  const r = await get(`${shield.url}/__shield/metrics`, keepAlive);
  if (r.status !== 200) fail(`metrics: status ${r.status}`);
  const out = new Map<string, number>();
  for (const line of r.body.toString().split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function checkInternalErrors(shield: Child, when: string): Promise<void> {
  const n = (await metrics(shield)).get("shield_internal_errors_total") ?? 0;
  if (n !== 0) fail(`${when}: shield_internal_errors_total is ${n} (see the shield's stderr)`);
}

// ---------------------------------------------------------------- part 1: stalled readers

interface MissRun {
  readonly sent: number;
  readonly ok: number;
  /** Answered 503 origin_busy. */
  readonly busy: number;
  /** Every answer's latency, ms (200 and 503 alike: when the client had its answer). */
  readonly ms: number[];
  readonly seconds: number;
}

/**
 * Up to `max` small misses, `IN_FLIGHT` at a time on warm raw connections, until
 * `seconds` have passed. Each must be a 200 fetched and stored, or 503 origin_busy.
 */
async function misses(
  shield: Child,
  origin: Child,
  tag: string,
  max: number,
  seconds: number,
): Promise<MissRun> {
  const clients = await Promise.all(
    Array.from({ length: IN_FLIGHT }, () => RawClient.open(shield.port)),
  );
  for (const c of clients) {
    const a = await c.get("/__shield/health");
    if (a.status !== 200) fail(`warming a client: /__shield/health status ${a.status}`);
  }
  const before = await originStats(origin);
  const ms: number[] = [];
  let next = 0;
  let ok = 0;
  let busy = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (next < max && performance.now() < deadline) {
        const path = `/small/${tag}-${next++}`;
        const a = await c.get(path).catch((err: Error) => fail(`${path}: ${err.message}`));
        const cs = a.headers.get("cache-status") ?? "";
        ms.push(a.ms);
        if (a.status === 200) {
          if (a.body.length !== SMALL_BYTES) fail(`${path}: ${a.body.length} bytes`);
          if (!/fwd=uri-miss/.test(cs) || !cs.includes("stored")) fail(`${path}: ${cs}`);
          ok++;
        } else if (a.status === 503) {
          const error = (JSON.parse(a.body.toString()) as { error?: string }).error;
          if (error !== "origin_busy" || !cs.includes("detail=origin-busy")) {
            fail(`${path}: 503 ${error} (${cs})`);
          }
          busy++;
        } else fail(`${path}: status ${a.status} (${cs})`);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  const after = await originStats(origin);
  if (after.small - before.small !== ok) {
    fail(`${tag}: ${ok} misses answered 200 but the origin saw ${after.small - before.small}`);
  }
  return { sent: ms.length, ok, busy, ms, seconds: elapsed };
}

const CRLFCRLF = Buffer.from("\r\n\r\n");

interface Stalled {
  readonly id: string;
  readonly socket: Socket;
  head: boolean;
}

/**
 * `count` raw clients that each GET /video/<id>, read the head, and then nothing: the
 * socket is paused for good. One the shield cuts (reported by the origin through
 * `cutAtOrigin`) or refuses is replaced at once while the set is open.
 */
class Stallers {
  readonly #port: number;
  readonly #tag: string;
  readonly #live = new Map<string, Stalled>();
  #seq = 0;
  #open = true;
  /** Heads 200 received (each then stalls). */
  heads = 0;
  /** Heads 503 origin_busy received (queued for a connection longer than queueTimeoutMs). */
  busy = 0;
  /** Stalled clients whose transfer the shield cut. */
  cut = 0;
  /** For each cut: how long its origin transfer had run, ms (the origin's clock). */
  readonly holdMs: number[] = [];

  constructor(port: number, tag: string, count: number) {
    this.#port = port;
    this.#tag = tag;
    for (let i = 0; i < count; i++) this.#add();
  }

  /** The origin saw these videos' transfers close early: the shield cut their clients. */
  cutAtOrigin(aborted: readonly { id: string; ms: number }[]): void {
    for (const { id, ms } of aborted) {
      const s = this.#live.get(id);
      if (s === undefined) continue; // closed by this benchmark
      this.cut++;
      this.holdMs.push(ms);
      this.#replace(s);
    }
  }

  close(): void {
    this.#open = false;
    for (const s of this.#live.values()) s.socket.destroy();
    this.#live.clear();
  }

  #replace(s: Stalled): void {
    this.#live.delete(s.id);
    s.socket.destroy();
    if (this.#open) this.#add();
  }

  #add(): void {
    const id = `${this.#tag}-${this.#seq++}`;
    const host = `127.0.0.1:${this.#port}`;
    const socket = connect(this.#port, "127.0.0.1");
    const s: Stalled = { id, socket, head: false };
    this.#live.set(id, s);
    let buf = Buffer.alloc(0);
    socket.on("connect", () => socket.write(`GET /video/${id} HTTP/1.1\r\nhost: ${host}\r\n\r\n`));
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1");
      const status = Number(head.split(" ")[1]);
      if (status === 200) {
        // From here on nothing is read: the rest of the body waits in socket buffers.
        socket.pause();
        socket.off("data", onData);
        s.head = true;
        this.heads++;
        return;
      }
      if (status === 503) {
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1]);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length).toString();
        if (!body.includes('"origin_busy"')) fail(`stalled client /video/${id}: 503 ${body}`);
        this.busy++;
        this.#replace(s);
        return;
      }
      fail(`stalled client /video/${id}: ${head.split("\r\n")[0]}`);
    };
    socket.on("data", onData);
    socket.on("error", () => {}); // 'close' follows
    socket.on("close", () => {
      if (this.#live.get(id) !== s) return; // closed here
      // A paused client rarely sees the shield's close; when it does, it is a cut too.
      if (!s.head) fail(`stalled client /video/${id}: connection closed before a response`);
      this.cut++;
      this.#replace(s);
    });
  }
}

/** Polls the origin for cut transfers (replacing their clients) and the shield's queue. */
function watch(origin: Child, shield: Child, stallers: Stallers, from: number) {
  let cursor = from;
  let running = true;
  let maxWaiting = 0;
  const loop = (async () => {
    while (running) {
      const stats = await originStats(origin);
      stallers.cutAtOrigin(stats.aborted.slice(cursor));
      cursor = stats.aborted.length;
      maxWaiting = Math.max(maxWaiting, (await shieldState(shield)).waiting.bench ?? 0);
      await sleep(POLL_MS);
    }
  })();
  return {
    stop: async (): Promise<number> => {
      running = false;
      await loop;
      return maxWaiting;
    },
  };
}

/** Wait until the shield holds no origin transfer and queues no request. */
async function settle(origin: Child, shield: Child, what: string): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const active = (await originStats(origin)).video.active;
    const waiting = (await shieldState(shield)).waiting.bench ?? 0;
    if (active === 0 && waiting === 0) return;
    if (performance.now() - t0 > 15_000) {
      fail(
        `${what}: 15 s after every stalled client left, the shield still holds ${active} ` +
          `origin transfers and queues ${waiting} requests`,
      );
    }
    await sleep(50);
  }
}

interface StallRun extends MissRun {
  readonly cut: number;
  readonly videoBusy: number;
  readonly holdMs: number[];
  readonly maxWaiting: number;
}

async function stalledPhase(
  shield: Child,
  origin: Child,
  tag: string,
  max = MISSES,
): Promise<StallRun> {
  const from = (await originStats(origin)).aborted.length;
  const stallers = new Stallers(shield.port, `${tag}-v`, STALLED);
  const watcher = watch(origin, shield, stallers, from);
  // The pressure is on once every connection carries a stalled reader's body.
  const t0 = performance.now();
  while (stallers.heads < Math.min(CONNECTIONS, STALLED)) {
    if (performance.now() - t0 > 10_000) fail(`${tag}: stalled clients got no response`);
    await sleep(20);
  }
  await sleep(300);
  const m = await misses(shield, origin, tag, max, PHASE_SECONDS);
  const maxWaiting = await watcher.stop();
  stallers.close();
  await settle(origin, shield, tag);
  return {
    ...m,
    cut: stallers.cut,
    videoBusy: stallers.busy,
    holdMs: stallers.holdMs,
    maxWaiting,
  };
}

const shieldConfig = (origin: Child, shield: object = {}): string =>
  JSON.stringify({ origins: [{ name: "bench", url: origin.url, hosts: ["127.0.0.1"] }], shield });

/** "median (min–max)" over rounds. */
function spread(xs: readonly number[], f: (x: number) => string): string {
  if (xs.length === 1) return f(xs[0]!);
  return `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
}

async function partOne(origin: Child, children: Child[]): Promise<boolean> {
  const shield = await startChild("serve-shield.ts", [
    shieldConfig(origin, {
      origin: { connections: CONNECTIONS },
      server: { sendTimeoutMs: SEND_TIMEOUT_MS },
    }),
    "error",
    "memory",
  ]);
  children.push(shield);
  process.stderr.write("part 1: small misses, idle and with stalled readers\n");
  // Unreported: warm both processes' JIT on the miss path.
  await misses(shield, origin, "warm", 200, 30);

  const idle: MissRun[] = [];
  const stalled: StallRun[] = [];
  const line = (name: string, r: MissRun) =>
    `${int(r.sent)} misses in ${fixed(r.seconds)} s: p50 ${fixed(percentile(r.ms, 50))} ` +
    `p99 ${fixed(percentile(r.ms, 99))} max ${fixed(Math.max(...r.ms))} ms, ${r.ok} × 200, ` +
    `${r.busy} × 503 (${name})`;
  for (let round = 1; round <= ROUNDS; round++) {
    const i = await misses(shield, origin, `idle-${round}`, MISSES, 60);
    idle.push(i);
    process.stderr.write(`  round ${round} idle:    ${line("idle", i)}\n`);
    const s = await stalledPhase(shield, origin, `stall-${round}`);
    stalled.push(s);
    process.stderr.write(
      `  round ${round} stalled: ${line(`${STALLED} stalled`, s)}; ${s.cut} stalled clients cut, ` +
        `held ${fixed(median(s.holdMs), 0)} ms median, ${fixed(Math.max(0, ...s.holdMs), 0)} max; ` +
        `${s.videoBusy} video requests refused 503; queue ≤ ${s.maxWaiting}\n`,
    );
  }
  await checkInternalErrors(shield, "part 1");
  await shield.stop();

  // Control: the same stall with sendTimeoutMs at its default, one miss per client.
  let control: StallRun | null = null;
  const defaultSend = DEFAULTS.server.sendTimeoutMs;
  if (CONTROL) {
    const c = await startChild("serve-shield.ts", [
      shieldConfig(origin, { origin: { connections: CONNECTIONS } }),
      "error",
      "memory",
    ]);
    children.push(c);
    await misses(c, origin, "warm-control", 200, 30);
    control = await stalledPhase(c, origin, "control", IN_FLIGHT);
    process.stderr.write(
      `  control (sendTimeoutMs ${int(defaultSend)}): ${line("control", control)}; ` +
        `${control.cut} stalled clients cut\n`,
    );
    await checkInternalErrors(c, "part 1 control");
    await c.stop();
  }

  const p50 = (r: MissRun) => percentile(r.ms, 50);
  const p99 = (r: MissRun) => percentile(r.ms, 99);
  const max = (r: MissRun) => Math.max(...r.ms);
  const okPct = (r: MissRun) => (r.sent === 0 ? 0 : (100 * r.ok) / r.sent);
  const rate = (r: MissRun) => r.sent / r.seconds;
  const ms = (x: number) => fixed(x);
  /** A figure per round, stalled against idle: median (min–max) of each. */
  const both = (figure: string, f: (r: MissRun) => number, fmt: (x: number) => string) => ({
    figure,
    value: spread(stalled.map(f), fmt),
    baseline: spread(idle.map(f), fmt),
    ratio: ratio(median(stalled.map(f)), median(idle.map(f))),
  });
  const bound = QUEUE_TIMEOUT_MS + SLACK_MS;
  const holds = stalled.flatMap((r) => r.holdMs);
  const longestHold = Math.max(0, ...holds);
  const rows: Row[] = [
    { ...both("miss p50 latency, ms", p50, ms), target: "—" },
    { ...both("miss p99 latency, ms", p99, ms), target: "—" },
    {
      ...both("miss max latency, ms", max, ms),
      target: `≤ ${int(bound)}`,
      pass: Math.max(...stalled.map(max)) <= bound,
    },
    { ...both("misses sent", (r) => r.sent, int), ratio: "—", target: "—" },
    {
      ...both("misses answered 200, %", okPct, (x) => fixed(x, 0)),
      ratio: "—",
      target: "≥ 50",
      pass: Math.min(...stalled.map(okPct)) >= 50,
    },
    { ...both("misses refused 503 origin_busy", (r) => r.busy, int), ratio: "—", target: "—" },
    { ...both("misses answered per second", rate, (x) => fixed(x)), target: "—" },
    {
      figure: "stalled clients cut by the shield",
      value: spread(
        stalled.map((r) => r.cut),
        int,
      ),
      baseline: "—",
      ratio: "—",
      target: "—",
    },
    {
      figure: "stalled reader's hold on its connection, ms",
      value: `${fixed(median(holds), 0)} (max ${fixed(longestHold, 0)})`,
      baseline: "—",
      ratio: "—",
      target: `≤ ${int(2 * SEND_TIMEOUT_MS + SLACK_MS)}`,
      pass: longestHold <= 2 * SEND_TIMEOUT_MS + SLACK_MS,
    },
    {
      figure: "stalled clients' requests refused 503",
      value: spread(
        stalled.map((r) => r.videoBusy),
        int,
      ),
      baseline: "—",
      ratio: "—",
      target: "—",
    },
    {
      figure: "longest queue for a connection (sampled)",
      value: spread(
        stalled.map((r) => r.maxWaiting),
        int,
      ),
      baseline: "—",
      ratio: "—",
      target: "—",
    },
  ];
  if (control !== null) {
    const c = control;
    const idleMedian = (f: (r: MissRun) => number) => median(idle.map(f));
    rows.push(
      {
        figure: `control, sendTimeoutMs ${int(defaultSend)}: miss p50 / max, ms`,
        value: `${fixed(p50(c))} / ${fixed(max(c))}`,
        baseline: `${fixed(idleMedian(p50))} / ${fixed(idleMedian(max))}`,
        ratio: ratio(p50(c), idleMedian(p50)),
        target: "—",
      },
      {
        figure: "control: misses answered 200 / 503 / sent",
        value: `${int(c.ok)} / ${int(c.busy)} / ${int(c.sent)}`,
        baseline: `${int(idleMedian((r) => r.ok))} / 0 / ${int(idleMedian((r) => r.sent))}`,
        ratio: "—",
        target: "—",
      },
      {
        figure: "control: stalled clients cut",
        value: int(c.cut),
        baseline: "—",
        ratio: "—",
        target: "—",
      },
    );
  }
  return printTable(
    `shield slow clients: small misses (${SMALL_BYTES} B, origin answers after ${SMALL_DELAY_MS} ms, ` +
      `${IN_FLIGHT} in flight) while ${STALLED} clients stall on ${mib(VIDEO_BYTES)} no-store bodies; ` +
      `connections ${CONNECTIONS}, sendTimeoutMs ${int(SEND_TIMEOUT_MS)}, queueTimeoutMs ` +
      `${int(QUEUE_TIMEOUT_MS)}; ${ROUNDS} rounds, median (min–max); baseline: the same misses ` +
      `with no stalled client, alternating (Node ${process.version})`,
    rows,
  );
}

// ---------------------------------------------------------------- part 2: URL floods

/** Pin a running process (all its threads) to `cpus`; false when taskset cannot. */
function pin(pid: number, cpus: string): boolean {
  const r = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { encoding: "utf8" });
  return r.status === 0;
}
function affinity(pid: number): string | null {
  const r = spawnSync("taskset", ["-p", "-c", String(pid)], { encoding: "utf8" });
  return r.status === 0 ? (r.stdout.split(":").pop()?.trim() ?? null) : null;
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const FILLER = Array.from({ length: URL_BYTES }, (_, i) => ALPHABET[(i * 7919) % 36]).join("");
/** `prefix` + filler + `suffix`, URL_BYTES long in all. */
const longPath = (prefix: string, suffix = ""): string =>
  prefix + FILLER.slice(0, URL_BYTES - prefix.length - suffix.length) + suffix;

interface Flood {
  readonly name: string;
  /** Its rows' prefix in the table. */
  readonly label: string;
  readonly tables: readonly string[];
  readonly path: (i: number) => string;
  readonly warm: (i: number) => string;
  /** A complaint about an answer, or null. */
  readonly check: (status: number, body: string) => string | null;
}

const FLOODS: readonly Flood[] = [
  {
    name: "plain URLs (404 private)",
    label: "plain",
    tables: ["hit_for_miss"],
    path: (i) => longPath(`/flood/${i}/`),
    warm: (i) => `/warm/${i}`,
    check: (status, body) => (status === 404 && body === "not found\n" ? null : `${status}`),
  },
  {
    name: "/img/width=100/ URLs (source 404 private)",
    label: "/img/",
    tables: ["image_urls", "image_variants", "hit_for_miss"],
    path: (i) => longPath(`/img/width=100/src/${i}/`, ".jpg"),
    warm: (i) => `/img/width=100/warm/${i}.jpg`,
    check: (status, body) =>
      status === 404 && body.includes('"source_error"') ? null : `${status} ${body.slice(0, 80)}`,
  },
];

/** GET each path(i), from ≤ i < to, 32 at a time; every answer checked. */
async function flood(
  shield: Child,
  from: number,
  to: number,
  path: (i: number) => string,
  check: Flood["check"],
): Promise<number> {
  const pool = new Pool(shield.url, { connections: FLOOD_CONNECTIONS, pipelining: 1 });
  let next = from;
  const t0 = performance.now();
  const worker = async () => {
    for (let i = next++; i < to; i = next++) {
      const p = path(i);
      const res = await pool.request({ path: p, method: "GET" });
      const body = await res.body.text();
      const complaint = check(res.statusCode, body);
      if (complaint !== null) {
        fail(
          `GET ${p.slice(0, 40)}… (${p.length} B): ${complaint} (${res.headers["cache-status"]})`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: FLOOD_CONNECTIONS }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return seconds;
}

interface Sample {
  readonly rss: number;
  /** A while later (when the sample was taken with a settling time). */
  readonly settled: number;
  /** 1 s after two forced full GCs. */
  readonly collected: number;
  readonly heap: ShieldState["memory"];
  readonly tables: Map<string, { bytes: number; max: number }>;
}

interface FloodResult {
  readonly flood: Flood;
  readonly urls: number;
  readonly seconds: number;
  readonly idle: Sample;
  readonly half: Sample;
  readonly end: Sample;
  readonly peak: number;
  /** The shield's CPU time over the flood, % of one core (100: the shield was the limit). */
  readonly cpuPct: number;
}

async function runFlood(
  origin: Child,
  children: Child[],
  f: Flood,
  urls: number,
  pinned: boolean,
): Promise<FloodResult> {
  const shield = await startChild(
    "serve-shield.ts",
    [shieldConfig(origin), "error", "memory"],
    ["--expose-gc"],
  );
  children.push(shield);
  if (pinned && !pin(shield.pid, "1")) fail("taskset worked for this process, not the shield");
  /** RSS now, and `settleMs` later; the tables; then RSS 1 s after two full GCs. */
  const sample = async (settleMs = 0): Promise<Sample> => {
    const now = rss(shield.pid).rss;
    if (settleMs > 0) await sleep(settleMs);
    const settled = rss(shield.pid).rss;
    const m = await metrics(shield);
    const tables = new Map(
      f.tables.map((t) => [
        t,
        {
          bytes: m.get(`shield_table_bytes{table="${t}"}`) ?? Number.NaN,
          max: m.get(`shield_table_max_bytes{table="${t}"}`) ?? Number.NaN,
        },
      ]),
    );
    const heap = (await shieldState(shield, true)).memory;
    // RSS falls for a while after a full GC (freed pages are returned lazily).
    await sleep(1_000);
    return { rss: now, settled, collected: rss(shield.pid).rss, heap, tables };
  };
  await flood(shield, 0, WARM_URLS, f.warm, f.check);
  await sleep(500);
  const idle = await sample();
  const half = Math.floor(urls / 2);
  let cpu = cpuMs(shield.pid);
  let seconds = await flood(shield, 0, half, f.path, f.check);
  cpu = cpuMs(shield.pid) - cpu;
  const atHalf = await sample();
  cpu -= cpuMs(shield.pid);
  seconds += await flood(shield, half, urls, f.path, f.check);
  cpu += cpuMs(shield.pid);
  const end = await sample(2_000);
  const peak = rss(shield.pid).peak;
  await checkInternalErrors(shield, f.name);
  await shield.stop();
  process.stderr.write(
    `  ${f.name}: ${int(urls)} in ${fixed(seconds)} s (${int(urls / seconds)}/s); RSS (after GC) ` +
      `idle ${mib(idle.rss)} (${mib(idle.collected)}), half ${mib(atHalf.rss)} ` +
      `(${mib(atHalf.collected)}), end ${mib(end.rss)} (${mib(end.collected)}), peak ${mib(peak)}\n`,
  );
  const cpuPct = cpu / 10 / seconds;
  return { flood: f, urls, seconds, idle, half: atHalf, end, peak, cpuPct };
}

async function partTwo(origin: Child, children: Child[]): Promise<boolean> {
  const own = affinity(process.pid);
  const pinned = own !== null && pin(process.pid, "0") && pin(origin.pid, "0");
  const pinning = pinned
    ? "load generator and origin pinned to CPU 0, shield to CPU 1 (taskset)"
    : "taskset is not usable here: NOT pinned, load generator, origin and shield share the CPUs";
  process.stderr.write(`part 2: distinct ${int(URL_BYTES)}-byte URLs; ${pinning}\n`);
  const results: FloodResult[] = [];
  try {
    for (const f of FLOODS) {
      const urls = f.tables.includes("image_urls") ? IMAGE_URLS : URLS;
      results.push(await runFlood(origin, children, f, urls, pinned));
    }
  } finally {
    if (pinned && own !== null) {
      pin(process.pid, own);
      pin(origin.pid, own);
    }
  }

  const rows: Row[] = [];
  for (const r of results) {
    const name = r.flood.label;
    const n = r.urls;
    const bounds = [...r.end.tables.values()].reduce((a, t) => a + t.max, 0);
    const growth = r.end.collected - r.idle.collected;
    const secondHalf = r.end.collected - r.half.collected;
    const secondHalfUrls = (n - Math.floor(n / 2)) * URL_BYTES;
    const rssRow = (figure: string, v: number, idle = r.idle.rss): Row => ({
      figure: `${name}: ${figure}`,
      value: mib(v),
      baseline: mib(idle),
      ratio: ratio(v, idle),
      target: "—",
    });
    rows.push(
      rssRow(`RSS after ${int(n / 2)} URLs`, r.half.rss),
      rssRow(`RSS after ${int(n)} URLs`, r.end.rss),
      rssRow("  same, 2 s later", r.end.settled),
      rssRow("  same, after a forced full GC", r.end.collected, r.idle.collected),
      rssRow("  peak RSS during the flood (VmHWM)", r.peak),
      {
        figure: `${name}: RSS growth after GC, whole flood`,
        value: mib(growth),
        baseline: mib(n * URL_BYTES),
        ratio: ratio(growth, n * URL_BYTES),
        target: `≤ ${mib(bounds)}`,
        pass: growth <= bounds,
      },
      {
        figure: `${name}: RSS growth after GC, second half`,
        value: mib(secondHalf),
        baseline: mib(secondHalfUrls),
        ratio: ratio(secondHalf, secondHalfUrls),
        target: "≤ 0.05×",
        pass: secondHalf <= 0.05 * secondHalfUrls,
      },
      {
        figure: `${name}: growth per request, B`,
        value: int(growth / n),
        baseline: int(URL_BYTES),
        ratio: ratio(growth / n, URL_BYTES),
        target: "—",
      },
    );
    for (const [table, t] of r.end.tables) {
      rows.push({
        figure: `${name}: table ${table}, bytes`,
        value: mib(t.bytes),
        baseline: mib(t.max),
        ratio: ratio(t.bytes, t.max),
        target: "≤ 1.00×",
        pass: t.bytes <= t.max,
      });
    }
    rows.push({
      figure: `${name}: flood rate, req/s (shield CPU, % of a core)`,
      value: `${int(n / r.seconds)} (${int(r.cpuPct)} %)`,
      baseline: "—",
      ratio: "—",
      target: "—",
    });
  }
  const ok = printTable(
    `shield memory under distinct ${int(URL_BYTES)}-byte URLs answered 404 private (default ` +
      `tables and memory tier, a fresh shield per flood, ${FLOOD_CONNECTIONS} connections, Node ` +
      `${process.version}, child flag --expose-gc; ${pinning}); baseline: RSS of the same ` +
      `process idle after ${int(WARM_URLS)} short URLs (and a full GC, for "after GC" rows); for ` +
      "growth, the bytes of the URLs sent; for tables, their bound",
    rows,
  );
  for (const r of results) {
    const u = (m: ShieldState["memory"]) =>
      `heap ${mib(m.heapUsed)} of ${mib(m.heapTotal)}, external ${mib(m.external)}`;
    const idleTables = [...r.idle.tables].map(([t, v]) => `${t} ${mib(v.bytes)}`).join(", ");
    console.log(
      `${r.flood.label}: idle ${u(r.idle.heap)} (tables ${idleTables}); after the flood and ` +
        `a full GC ${u(r.end.heap)}`,
    );
  }
  return ok;
}

const children: Child[] = [];
async function main(): Promise<void> {
  const t0 = performance.now();
  const origin = await startChild("serve-stream-origin.ts", [
    String(VIDEO_BYTES),
    String(SMALL_DELAY_MS),
    String(SMALL_BYTES),
  ]);
  children.push(origin);
  let ok = true;
  if (PARTS.includes("1")) ok = (await partOne(origin, children)) && ok;
  if (PARTS.includes("2")) ok = (await partTwo(origin, children)) && ok;
  console.log(`took ${fixed((performance.now() - t0) / 1000)} s`);
  process.exitCode = ok ? 0 : 1;
}

try {
  await main();
} finally {
  for (const c of children) await c.stop();
  keepAlive.destroy();
}
