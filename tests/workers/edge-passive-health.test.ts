/**
 * Passive health at the edge (workers/upstream/node-health.ts): a shield node that
 * accepts connections but never answers costs one timeout, not one per miss; it is tried
 * again after its backoff, one request at a time, and used once it answers; and marks
 * alone never fail a request. The black-holed node is the spare fake node (hang()), so
 * other test files never meet it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { buildCacheKey, normaliseUrl } from "../../core/key/index.ts";
import { rendezvousNodes, rendezvousOrder } from "../../core/routing/index.ts";
import {
  cdnConfig,
  DEAD_NODE,
  hang,
  received,
  type SentResponse,
  SHIELDS,
  SPARE_NODE,
  script,
  scriptAll,
  type TestEdge,
  testEdge,
  uniquePath,
} from "./support/edge.ts";

const keyConfig = parseConfig(JSON.parse(cdnConfig())).key;
const NODES = [SPARE_NODE, ...SHIELDS];
const TIMEOUT_MS = 400;
const OK = { headers: { "cache-control": "max-age=60" }, body: "ok" } as const;

function orderFor(path: string, nodes: readonly string[]): string[] {
  const url = normaliseUrl(`https://edge.test${path}`, keyConfig);
  const key = buildCacheKey({ url, headers: new Headers() }, keyConfig, null);
  return rendezvousOrder(rendezvousNodes(nodes), key);
}

/** `count` fresh paths whose order over `nodes` starts with `first` (then `second`). */
async function pathsLed(
  count: number,
  nodes: readonly string[],
  first: string,
  second?: string,
): Promise<string[]> {
  const out: string[] = [];
  while (out.length < count) {
    const path = uniquePath();
    const [one, two] = orderFor(path, nodes);
    if (one === first && (second === undefined || two === second)) out.push(path);
  }
  await Promise.all(out.map((path) => scriptAll(path, OK)));
  return out;
}

/** One request, and how long it took (real time: the timeouts are real). */
async function timed(edge: TestEdge, path: string): Promise<{ res: SentResponse; ms: number }> {
  const start = Date.now();
  const res = await edge.send(path);
  return { res, ms: Date.now() - start };
}

async function spareSaw(path: string): Promise<number> {
  return (await received(SPARE_NODE, path)).length;
}

afterEach(async () => {
  await hang(SPARE_NODE, false);
});

describe("a black-holed shield node", () => {
  it("costs one timeout: the second and later misses go straight to the next node", async () => {
    await hang(SPARE_NODE, true);
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: NODES, shieldTimeoutMs: TIMEOUT_MS } }));
    const paths = await pathsLed(4, NODES, SPARE_NODE);
    const first = await timed(edge, paths[0]!);
    expect(first.res.text).toBe("ok");
    expect(first.ms).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
    for (const path of paths.slice(1)) {
      const later = await timed(edge, path);
      expect(later.res.text).toBe("ok");
      expect(later.ms, "a later miss waited for the black hole").toBeLessThan(TIMEOUT_MS);
    }
    expect(await Promise.all(paths.map(spareSaw))).toEqual([1, 0, 0, 0]);
  });

  it("is tried again after a backoff that grows with each failure, and used once it answers", async () => {
    await hang(SPARE_NODE, true);
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: NODES, shieldTimeoutMs: TIMEOUT_MS } }));
    const [a, b, c, d, e, f] = await pathsLed(6, NODES, SPARE_NODE);
    await edge.send(a!); // fails: skipped for nodeBackoffMs (1 s)
    edge.advance(0.5);
    await edge.send(b!);
    edge.advance(0.6);
    const probe = await timed(edge, c!); // tried again, fails: skipped for 2 s
    expect(probe.res.text).toBe("ok");
    expect(probe.ms).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
    edge.advance(1.5);
    await edge.send(d!);
    expect(await Promise.all([a, b, c, d].map((path) => spareSaw(path!)))).toEqual([1, 0, 1, 0]);

    // Back: answering again. The next try after the backoff finds it, and it keeps its keys.
    await hang(SPARE_NODE, false);
    await script(SPARE_NODE, e!, OK);
    await script(SPARE_NODE, f!, OK);
    edge.advance(0.6);
    const back = await edge.send(e!);
    expect(back.headers.get("x-served-by")).toBe("shield-d");
    const next = await edge.send(f!);
    expect(next.headers.get("x-served-by")).toBe("shield-d");
  });

  it("is probed by one request at a time once its backoff is over", async () => {
    await hang(SPARE_NODE, true);
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: NODES, shieldTimeoutMs: TIMEOUT_MS } }));
    const [first, ...together] = await pathsLed(4, NODES, SPARE_NODE);
    await edge.send(first!);
    edge.advance(1.1);
    const answers = await Promise.all(together.map((path) => edge.send(path)));
    expect(answers.map((res) => res.text)).toEqual(["ok", "ok", "ok"]);
    const seen = await Promise.all(together.map(spareSaw));
    expect(seen.reduce((sum, n) => sum + n, 0)).toBe(1);
  });
});

describe("marks never fail a request by themselves", () => {
  it("tries every node in the key's order when all are marked, and serves once one answers", async () => {
    await hang(SPARE_NODE, true);
    const nodes = [SPARE_NODE, DEAD_NODE];
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: nodes, shieldTimeoutMs: TIMEOUT_MS } }));
    const [failing, later] = await pathsLed(2, nodes, SPARE_NODE);
    const failed = await edge.send(failing!);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    // Both nodes are marked now; the black hole comes back at once.
    await hang(SPARE_NODE, false);
    await script(SPARE_NODE, later!, OK);
    const res = await edge.send(later!);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-served-by")).toBe("shield-d");
  });

  it("sends a key to a marked node after the unmarked ones fail", async () => {
    await hang(SPARE_NODE, true);
    const nodes = [SPARE_NODE, SHIELDS[0]!];
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: nodes, shieldTimeoutMs: TIMEOUT_MS } }));
    const [first, second] = await pathsLed(2, nodes, SPARE_NODE);
    expect((await edge.send(first!)).text).toBe("ok");
    // The spare is marked; the other node now fails this key, and the spare is back.
    await hang(SPARE_NODE, false);
    await script(SPARE_NODE, second!, OK);
    await script(SHIELDS[0]!, second!, { status: 502, body: "no shield here" });
    const res = await edge.send(second!);
    expect(res.headers.get("x-served-by")).toBe("shield-d");
    expect((await received(SHIELDS[0]!, second!)).length).toBe(1);
  });
});

describe("edge.firstByteTimeoutMs", () => {
  it("gives up on a node sooner while another is left to try", async () => {
    await hang(SPARE_NODE, true);
    const config = { shieldNodes: NODES, shieldTimeoutMs: 5_000, firstByteTimeoutMs: 200 };
    const edge = testEdge(cdnConfig({ edge: config }));
    const [path] = await pathsLed(1, NODES, SPARE_NODE);
    const { res, ms } = await timed(edge, path!);
    expect(res.text).toBe("ok");
    expect(ms).toBeGreaterThanOrEqual(180);
    expect(ms).toBeLessThan(2_000);
  });

  it("leaves the last node tried the whole shieldTimeoutMs", async () => {
    const nodes = [DEAD_NODE, SHIELDS[0]!];
    const config = { shieldNodes: nodes, shieldTimeoutMs: 5_000, firstByteTimeoutMs: 100 };
    const edge = testEdge(cdnConfig({ edge: config }));
    const [path] = await pathsLed(1, nodes, DEAD_NODE, SHIELDS[0]!);
    await script(SHIELDS[0]!, path!, { ...OK, delayMs: 400 });
    const res = await edge.send(path!);
    expect(res.status).toBe(200);
    expect(res.text).toBe("ok");
  });
});
