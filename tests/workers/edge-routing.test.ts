import { afterEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { buildCacheKey, normaliseUrl } from "../../core/key/index.ts";
import { rendezvousNodes, rendezvousOrder } from "../../core/routing/index.ts";
import {
  cdnConfig,
  DEAD_NODE,
  received,
  receivedAll,
  SHIELDS,
  script,
  scriptAll,
  testEdge,
  uniquePath,
} from "./support/edge.ts";

const config = parseConfig(JSON.parse(cdnConfig()));

/** The node order rendezvous hashing gives a path's key, as the edge computes it. */
function orderFor(path: string, nodes: readonly string[] = SHIELDS): string[] {
  const url = normaliseUrl(`https://edge.test${path}`, config.key);
  const key = buildCacheKey({ url, headers: new Headers() }, config.key, null);
  return rendezvousOrder(rendezvousNodes(nodes), key);
}

const OK = { headers: { "cache-control": "max-age=60" }, body: "ok" } as const;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("shield routing: rendezvous hashing of the cache key", () => {
  it("sends each key to the node that owns it, and spreads keys over all nodes", async () => {
    const edge = testEdge();
    const owners = new Map<string, number>();
    for (let i = 0; i < 24; i++) {
      const path = uniquePath(`k${i}`);
      await scriptAll(path, OK);
      await edge.send(path);
      const owner = orderFor(path)[0]!;
      expect(await received(owner, path), `key ${i} on its owner`).toHaveLength(1);
      expect(await receivedAll(path)).toHaveLength(1);
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
    }
    expect(owners.size).toBe(3);
  });

  it("tries the key's next node when its owner refuses connections", async () => {
    const nodes = [DEAD_NODE, ...SHIELDS];
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: nodes, maxAttempts: 4 } }));
    // A key the dead node owns.
    let path = uniquePath();
    while (orderFor(path, nodes)[0] !== DEAD_NODE) path = uniquePath();
    await scriptAll(path, OK);
    const res = await edge.send(path);
    expect(res.text).toBe("ok");
    const runnerUp = orderFor(path, nodes)[1]!;
    expect(await received(runnerUp, path)).toHaveLength(1);
  });

  it("tries the next node when one answers 5xx or too slowly, in the key's order", async () => {
    const edge = testEdge(cdnConfig({ edge: { shieldTimeoutMs: 150, maxAttempts: 3 } }));
    const path = uniquePath();
    const [first, second, third] = orderFor(path) as [string, string, string];
    await script(first, path, { status: 503, body: "busy" });
    await script(second, path, { delayMs: 1_000, ...OK });
    await script(third, path, OK);
    const res = await edge.send(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-served-by")).toBe(
      ["shield-a", "shield-b", "shield-c"][SHIELDS.indexOf(third)],
    );
    for (const node of [first, second, third]) expect(await received(node, path)).toHaveLength(1);
  });

  it("tries at most maxAttempts nodes, then passes the last 5xx on", async () => {
    const edge = testEdge(cdnConfig({ edge: { maxAttempts: 2 } }));
    const path = uniquePath();
    await scriptAll(path, { status: 500, body: "origin broke" });
    const res = await edge.send(path);
    expect(res.status).toBe(500);
    expect(res.text).toBe("origin broke");
    expect(await receivedAll(path)).toHaveLength(2);
    expect(await received(orderFor(path)[2]!, path)).toHaveLength(0);
  });

  it("passes on a 5xx the shield relayed from the origin without asking another node", async () => {
    const edge = testEdge(cdnConfig({ edge: { maxAttempts: 3 } }));
    const path = uniquePath();
    const relayed = "shield; fwd=uri-miss; fwd-status=503";
    await scriptAll(path, { status: 503, headers: { "cache-status": relayed }, body: "busy" });
    const res = await edge.send(path);
    expect(res.status).toBe(503);
    expect(res.text).toBe("busy");
    expect(res.headers.get("cache-status")).toMatch(new RegExp(`^${relayed}, edge; `));
    // The origin was asked once, through one node.
    expect(await receivedAll(path)).toHaveLength(1);
  });

  it.each([
    [504, "shield; fwd=uri-miss; detail=origin-timeout"],
    [503, "shield; fwd=uri-miss; detail=queue_full"],
  ])(
    "passes on the shield's own %i refusal (%s) without asking another node",
    async (status, cs) => {
      const edge = testEdge(cdnConfig({ edge: { maxAttempts: 3 } }));
      const path = uniquePath();
      await scriptAll(path, { status, headers: { "cache-status": cs }, body: "refused" });
      const res = await edge.send(path);
      expect(res.status).toBe(status);
      expect(await receivedAll(path)).toHaveLength(1);
    },
  );

  it("tries the next node on a 5xx no shield answered (no Cache-Status)", async () => {
    const edge = testEdge(cdnConfig({ edge: { maxAttempts: 3 } }));
    const path = uniquePath();
    const [first, second] = orderFor(path) as [string, string];
    await script(first, path, { status: 502, body: "bad gateway" });
    await script(second, path, OK);
    const res = await edge.send(path);
    expect(res.status).toBe(200);
    expect(res.text).toBe("ok");
    expect(await received(first, path)).toHaveLength(1);
    expect(await received(second, path)).toHaveLength(1);
  });

  it("sends methods other than GET and HEAD to one node only", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { status: 503 });
    const res = await edge.send(path, { method: "POST", body: "order" });
    expect(res.status).toBe(503);
    expect(await receivedAll(path)).toHaveLength(1);
  });

  it("takes its nodes from SHIELD_NODES when set, overriding the config", async () => {
    const path = uniquePath();
    await scriptAll(path, OK);
    const only = SHIELDS[1]!;
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: [DEAD_NODE] } }), {
      SHIELD_NODES: ` ${only}/ `,
    });
    expect((await edge.send(path)).text).toBe("ok");
    expect(await received(only, path)).toHaveLength(1);
  });

  it("refuses to serve with a bad SHIELD_NODES, naming the entry to the admin only", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const edge = testEdge(cdnConfig(), {
      SHIELD_NODES: `${SHIELDS[0]},ftp://x`,
      EDGE_ADMIN_TOKEN: "admin",
    });
    const res = await edge.send("/anything");
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text)).toEqual({
      error: "config_invalid",
      message: "the edge is misconfigured",
    });
    const health = await edge.send("/__edge/health", {
      headers: { authorization: "Bearer admin" },
    });
    const body = JSON.parse(health.text) as { error: string; message: string };
    expect(body.error).toBe("config_invalid");
    expect(body.message).toContain("SHIELD_NODES");
    expect(body.message).toContain("[1]: must use http or https");
  });
});

describe("without shields, the edge fetches the configured origin", () => {
  it("routes by host and path prefix to the origin's URL", async () => {
    const [siteNode, apiNode] = [SHIELDS[0]!, SHIELDS[1]!];
    const edge = testEdge(
      JSON.stringify({
        origins: [
          { name: "site", url: siteNode, hosts: ["edge.test"] },
          { name: "api", url: `${apiNode}/v2`, hosts: ["edge.test"], pathPrefix: "/api/" },
        ],
      }),
    );
    const page = uniquePath();
    await script(siteNode, page, OK);
    expect((await edge.send(page)).text).toBe("ok");
    expect(await received(siteNode, page)).toHaveLength(1);

    const api = `/api${uniquePath()}`;
    await script(apiNode, `/v2${api}`, OK);
    const res = await edge.send(`${api}?b=1&a=2`);
    expect(res.text).toBe("ok");
    const logs = await received(apiNode, `/v2${api}`);
    expect(logs.map((l) => l.url)).toEqual([`/v2${api}?a=2&b=1`]);
    expect(logs[0]!.headers["x-forwarded-host"]).toBe("edge.test");
  });
});

describe("what the shield receives", () => {
  it("the client's fields minus hop-by-hop ones, plus X-Forwarded-Host/-Proto and Via", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, OK);
    await edge.send(`https://Edge.Test${path}`, {
      headers: {
        "user-agent": "test/1",
        "x-forwarded-host": "evil.example",
        connection: "x-hop",
        "x-hop": "secret",
        "keep-alive": "timeout=5",
        te: "trailers",
        via: "1.1 corporate-proxy",
        "accept-encoding": "gzip, deflate, br, zstd",
        "if-none-match": '"abc"',
      },
    });
    const h = (await receivedAll(path))[0]!.headers;
    expect(h["user-agent"]).toBe("test/1");
    expect(h["x-forwarded-host"]).toBe("edge.test");
    expect(h["x-forwarded-proto"]).toBe("https");
    expect(h.via).toBe("1.1 corporate-proxy, 1.1 edge");
    expect(h["x-hop"]).toBeUndefined();
    expect(h["keep-alive"]).toBeUndefined();
    expect(h.te).toBeUndefined();
    // The one coding the edge wants (core preferredCoding), br for this value.
    expect(h["accept-encoding"]).toBe("br");
    // The edge stores complete responses and answers conditions itself.
    expect(h["if-none-match"]).toBeUndefined();
  });
});
