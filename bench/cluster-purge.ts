/**
 * Purge propagation in bench/cluster.ts: one key held in memory by nodes A, B and C (A
 * fetched it; B and C read it from Redis), purged by URL on A; then B and C are each
 * polled, a request every millisecond or so, until the answer is no longer the old copy
 * (the origin sends a fresh random body on every fetch, so "old" is a byte comparison).
 * The figure is the time from sending the purge to A until that first new answer arrived
 * on the slower of B and C: an upper bound, since it includes the miss that fetched the
 * new copy. The baseline is A's own answer to the purge (its Redis tier, its memory and
 * the message to the others, all done by then).
 */
import { BENCH_HOST, cacheStatusOf, type NodeClient, spread } from "./cluster-http.ts";
import { type Nodes, progress, type Settings } from "./cluster-nodes.ts";
import { sleep } from "./lib/http.ts";
import { fail, fixed, int, median, percentile, type Row } from "./lib/table.ts";

export interface PurgeRun {
  /** Purge sent → B and C both answered something new, ms. */
  readonly propagated: number[];
  /** Purge sent → A's answer to it, ms. */
  readonly answered: number[];
  /** Requests B and C answered with the old copy after the purge was sent. */
  readonly staleAnswers: number;
}

/** Longest a node may keep answering the old copy before the run fails. */
const GIVE_UP_MS = 5_000;
/**
 * Pause between two polls of one node: back-to-back polls would keep B and C busy on the
 * core A needs for the purge itself (each node has a machine of its own in production).
 */
const POLL_GAP_MS = 1;

export async function purges(
  [nodeA, nodeB, nodeC]: readonly [NodeClient, NodeClient, NodeClient],
  count: number,
  tag: string,
): Promise<PurgeRun> {
  const run: PurgeRun = { propagated: [], answered: [], staleAnswers: 0 };
  let stale = 0;
  for (let index = 0; index < count; index++) {
    const path = `/stampede/0/purge-${tag}-${index}`;
    const old = (await nodeA.get(path)).body;
    // B and C take it from Redis (or from A's fetch, if its write has not landed yet),
    // then hold it in memory: the second read must be a memory hit of the same bytes.
    for (const node of [nodeB, nodeC]) {
      for (let read = 0; read < 2; read++) {
        const answer = await node.get(path);
        if (answer.status !== 200 || !answer.body.equals(old)) {
          fail(`${node.url}${path}: not the copy A fetched (${cacheStatusOf(answer)})`);
        }
      }
    }
    const started = performance.now();
    const purged = nodeA.purge([`http://${BENCH_HOST}${path}`]).then((answer) => {
      if (answer.status !== 200) fail(`purge on ${nodeA.url}: status ${answer.status}`);
      const report = JSON.parse(answer.body.toString()) as { purged: { nodes: unknown } };
      if (report.purged.nodes !== 2) {
        fail(`purge on ${nodeA.url} reached ${String(report.purged.nodes)} nodes, not 2`);
      }
      return performance.now() - started;
    });
    const until = async (node: NodeClient): Promise<number> => {
      for (;;) {
        const answer = await node.get(path);
        if (answer.status !== 200) fail(`${node.url}${path}: status ${answer.status}`);
        if (!answer.body.equals(old)) return performance.now() - started;
        stale++;
        await sleep(POLL_GAP_MS);
        if (performance.now() - started > GIVE_UP_MS) {
          fail(`${node.url}${path}: still the old copy ${GIVE_UP_MS} ms after the purge`);
        }
      }
    };
    const [answered, onB, onC] = await Promise.all([purged, until(nodeB), until(nodeC)]);
    run.answered.push(answered);
    run.propagated.push(Math.max(onB, onC));
  }
  return { ...run, staleAnswers: stale };
}

export async function purgeRows(nodes: Nodes, settings: Settings): Promise<Row[]> {
  const [, nodeB, nodeC] = nodes.clients;
  const received = async () =>
    Promise.all(
      [nodeB, nodeC].map((client) =>
        client.metric("shield_purge_messages_total", 'direction="received"'),
      ),
    );
  await purges(nodes.clients, 10, "warm");
  const before = await received();
  const runs: PurgeRun[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    const run = await purges(nodes.clients, settings.purges, `${round}`);
    runs.push(run);
    progress(
      `purge round ${round + 1}: B and C new after p50 ${fixed(percentile(run.propagated, 50), 2)} ` +
        `p99 ${fixed(percentile(run.propagated, 99), 2)} max ${fixed(Math.max(...run.propagated), 2)} ms; ` +
        `A answered after p50 ${fixed(percentile(run.answered, 50), 2)} ms; ` +
        `${run.staleAnswers} old answers while polling`,
    );
  }
  const after = await received();
  const got = after.map((count, index) => count - before[index]!);
  const sent = settings.rounds * settings.purges;
  if (got.some((count) => count !== sent)) {
    fail(`B and C received ${got.join(" and ")} purge messages, ${sent} were sent`);
  }
  const rows: Row[] = [];
  for (const rank of [50, 99]) {
    const perRound = runs.map((run) => percentile(run.propagated, rank));
    const value = median(perRound);
    const answered = median(runs.map((run) => percentile(run.answered, rank)));
    rows.push({
      figure: `purge by URL on A → B and C answer anew: p${rank} ms (spread ${spread(perRound, 2)})`,
      value: fixed(value, 2),
      baseline: fixed(answered, 2),
      ratio: `${(value / answered).toFixed(2)}×`,
      target: rank === 99 ? "< 1000 (aim < 50)" : "—",
      pass: rank === 99 ? value < 1000 : undefined,
    });
  }
  rows.push({
    figure: `purge: messages received by B / C (of ${sent} sent from A)`,
    value: got.join(" / "),
    baseline: int(sent),
    ratio: "—",
    target: "—",
  });
  return rows;
}
