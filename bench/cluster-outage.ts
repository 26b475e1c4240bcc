/**
 * Redis stopped under load, in bench/cluster.ts: closed-loop clients on two nodes ask
 * for a mix of keys (mostly hits on a small hot set, one in five a key never asked for,
 * which each node must fill through its Redis lease), while Redis is killed part way
 * through. Every answer must be a 200 carrying the origin's exact bytes; anything else,
 * a socket error included, is a client error. The baseline is the same load with Redis
 * up.
 */
import { NodeClient, spread } from "./cluster-http.ts";
import { type Nodes, progress, redisUp, type Settings } from "./cluster-nodes.ts";
import { patternBody } from "./lib/body.ts";
import { fixed, int, median, percentile, type Row } from "./lib/table.ts";

const OUTAGE_CONCURRENCY = 16;
/** When Redis is killed, from the start of a run, ms. */
const OUTAGE_AT_MS = 500;

const SIZE = 1024;
const HOT_KEYS = 20;
/** One request in COLD_EVERY asks for a key nobody asked for before. */
const COLD_EVERY = 5;

export interface LoadRun {
  readonly requests: number;
  readonly errors: number;
  /** The first error, for the report. */
  readonly firstError: string;
  readonly p99: number;
  readonly max: number;
}

/**
 * `concurrency` loops per node for `seconds`; `during` runs once, `atMs` into the run,
 * while the loops go on.
 */
export async function mixedLoad(
  urls: readonly string[],
  seconds: number,
  concurrency: number,
  tag: string,
  during?: { readonly atMs: number; readonly action: () => Promise<void> },
): Promise<LoadRun> {
  const body = patternBody(SIZE);
  const clients = urls.map((url) => new NodeClient(url, concurrency));
  const latencies: number[] = [];
  let errors = 0;
  let firstError = "";
  let sequence = 0;
  const stopAt = performance.now() + seconds * 1000;
  const loop = async (client: NodeClient): Promise<void> => {
    while (performance.now() < stopAt) {
      const number = sequence++;
      const path =
        number % COLD_EVERY === 0
          ? `/obj/${SIZE}/cold-${tag}-${number}`
          : `/obj/${SIZE}/hot-${tag}-${number % HOT_KEYS}`;
      try {
        const answer = await client.get(path);
        latencies.push(answer.ms);
        if (answer.status !== 200 || !answer.body.equals(body)) {
          errors++;
          firstError ||= `${client.url}${path}: status ${answer.status}, ${answer.body.length} bytes`;
        }
      } catch (err) {
        errors++;
        firstError ||= `${client.url}${path}: ${(err as Error).message}`;
      }
    }
  };
  const loops = clients.flatMap((client) =>
    Array.from({ length: concurrency }, () => loop(client)),
  );
  const action =
    during === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          setTimeout(() => during.action().then(resolve, reject), during.atMs);
        });
  await Promise.all([...loops, action]);
  for (const client of clients) client.close();
  return {
    requests: latencies.length,
    errors,
    firstError,
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
  };
}

export async function outageRows(nodes: Nodes, settings: Settings): Promise<Row[]> {
  const urls = nodes.cluster.slice(0, 2).map((child) => child.url);
  const runs = { up: [] as LoadRun[], down: [] as LoadRun[] };
  const back: number[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    for (let turn = 0; turn < 2; turn++) {
      const down = (turn + round) % 2 === 1;
      const tag = `${down ? "down" : "up"}-${round}`;
      const kill = { atMs: OUTAGE_AT_MS, action: () => nodes.redis.stop() };
      const run = await mixedLoad(
        urls,
        settings.seconds,
        OUTAGE_CONCURRENCY,
        tag,
        down ? kill : undefined,
      );
      (down ? runs.down : runs.up).push(run);
      let note = "";
      if (down) {
        await nodes.redis.start();
        const ms = await redisUp(nodes.clients);
        back.push(ms);
        note = `; Redis restarted, every node saw it up after ${fixed(ms)} ms`;
      }
      progress(
        `Redis ${down ? "killed" : "up"} round ${round + 1}: ${int(run.requests)} requests, ${run.errors} errors` +
          `${run.firstError === "" ? "" : ` (first: ${run.firstError})`}, p99 ${fixed(run.p99, 2)} ` +
          `max ${fixed(run.max, 2)} ms${note}`,
      );
    }
  }
  const errors = (list: LoadRun[]) => list.reduce((sum, run) => sum + run.errors, 0);
  const requests = (list: LoadRun[]) => list.reduce((sum, run) => sum + run.requests, 0);
  const med = (list: LoadRun[], pick: (run: LoadRun) => number) => median(list.map(pick));
  const load = `${OUTAGE_CONCURRENCY} clients on each of 2 nodes, ${settings.seconds} s, killed at ${OUTAGE_AT_MS} ms`;
  return [
    {
      figure: `Redis down: client errors (${load}; all rounds)`,
      value: `${errors(runs.down)} of ${int(requests(runs.down))}`,
      baseline: `${errors(runs.up)} of ${int(requests(runs.up))}`,
      ratio: "—",
      target: "0",
      pass: errors(runs.down) === 0,
    },
    {
      figure: `Redis down: p99 / max latency, ms (p99 spread ${spread(
        runs.down.map((run) => run.p99),
        2,
      )})`,
      value: `${fixed(
        med(runs.down, (run) => run.p99),
        2,
      )} / ${fixed(med(runs.down, (run) => run.max))}`,
      baseline: `${fixed(
        med(runs.up, (run) => run.p99),
        2,
      )} / ${fixed(med(runs.up, (run) => run.max))}`,
      ratio: "—",
      target: "—",
    },
    {
      figure: "Redis restarted: until every node reports it up, ms (median)",
      value: fixed(median(back)),
      baseline: "—",
      ratio: "—",
      target: "—",
    },
  ];
}
