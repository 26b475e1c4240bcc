/**
 * Three shield nodes sharing one real Redis, on real sockets: one origin fetch per key
 * for the whole cluster, shared hits, purges that reach every node, the edge purged
 * through a loopback fake of Cloudflare's API, and a Redis that dies under load costing
 * no client an error.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { type CdnConfigInput, parseConfig } from "../../core/config/index.ts";
import { urlPurgeTag } from "../../core/purge/index.ts";
import { createShield, type Shield } from "../../origin-shield/app.ts";
import { createShieldServer } from "../../origin-shield/transport/server.ts";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { describeWithRedis, type RedisServer, startRedisServer } from "../helpers/redis-server.ts";

const TOKEN = "cluster-purge-token-0123";
const ZONE = "0123456789abcdef0123456789abcdef";

interface Node {
  readonly shield: Shield;
  readonly url: string;
  get(path: string, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly cacheStatus: string;
}

async function startNode(
  originUrl: string,
  redisUrl: string,
  overrides: Partial<CdnConfigInput["shield"]> = {},
  cloudflareToken?: string,
): Promise<Node> {
  const config = parseConfig({
    origins: [{ name: "test", url: originUrl, hosts: ["example.com"] }],
    shield: {
      purgeToken: TOKEN,
      redis: { url: redisUrl, keyPrefix: "t:", timeoutMs: 100 },
      ...overrides,
    },
  });
  const shield = createShield({ config, cloudflareToken });
  const server: Server = createShieldServer(shield);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    shield,
    url,
    async get(path, headers = {}) {
      const res = await fetch(`${url}${path}`, {
        headers: { "x-forwarded-host": "example.com", ...headers },
      });
      return {
        status: res.status,
        body: await res.text(),
        cacheStatus: res.headers.get("cache-status") ?? "",
      };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await shield.drain();
      await shield.close();
    },
  };
}

/** The sum of a metric's samples on a node (only those with the label value, if given). */
async function metric(node: Node, name: string, label?: string): Promise<number> {
  const text = await (await fetch(`${node.url}/__shield/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    if (label !== undefined && !line.includes(`"${label}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function redisState(node: Node): Promise<string> {
  const health = (await (await fetch(`${node.url}/__shield/health`)).json()) as {
    tiers: { redis: { state: string } };
  };
  return health.tiers.redis.state;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 2000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithRedis("a cluster of three shields sharing Redis", () => {
  let redis: RedisServer;
  let origin: TestOrigin;
  let nodes: Node[] = [];
  let version = 1;

  beforeAll(async () => {
    redis = await startRedisServer();
    origin = await startOrigin();
  });

  afterAll(async () => {
    await origin.close();
    await redis.close();
  });

  beforeEach(async () => {
    version = 1;
    await redis.command("FLUSHALL");
    origin.requests.length = 0;
    // A slow origin, so that every request of a herd arrives while the first is fetched.
    origin.handle((req, res) => {
      setTimeout(() => {
        res.writeHead(200, {
          "content-type": "text/plain",
          "cache-control": "public, max-age=600",
          "surrogate-key": "all",
        });
        res.end(`v${version} ${req.url}`);
      }, 300);
    });
    nodes = await Promise.all([0, 1, 2].map(() => startNode(origin.url, redis.url)));
    await waitFor("every node has connected to Redis", async () => {
      const states = await Promise.all(nodes.map(redisState));
      return states.every((s) => s === "up");
    });
  });

  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    if (!redis.running) await redis.start();
  });

  it("a herd spread over every node sends one origin fetch, and every client gets the response", async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (nodes[i % 3] as Node).get("/herd")),
    );
    expect(origin.count(), answers.map((a) => a.cacheStatus).join("\n")).toBe(1);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toBe("v1 /herd");
    }
    // Two of the nodes were collapsed onto the third's fetch, through Redis.
    expect(answers.filter((a) => a.cacheStatus.includes("detail=cluster")).length).toBe(40);
    const waits = await Promise.all(nodes.map((n) => metric(n, "shield_lease_waits_total")));
    expect(waits.sort()).toEqual([0, 1, 1]);
  });

  it("a purge message that is not one is dropped and counted, and the nodes carry on", async () => {
    const [a] = nodes as [Node, Node, Node];
    await a.get("/kept");
    for (const junk of ["not json", "[]", '{"from":"x","urls":"all","soft":false}', "{}"]) {
      await redis.command("PUBLISH", "t:purge", junk);
    }
    await waitFor(
      "the junk is seen",
      async () => (await metric(a, "shield_purge_messages_total", "rejected")) === 4,
    );
    expect((await a.get("/kept")).cacheStatus).toMatch(/^shield; hit/);
  });

  it("what one node stored is a hit on every other, read from Redis once and then from memory", async () => {
    const [a, b] = nodes as [Node, Node, Node];
    expect((await a.get("/shared")).body).toBe("v1 /shared");
    await a.shield.drain();
    const first = await b.get("/shared");
    expect(first.body).toBe("v1 /shared");
    expect(first.cacheStatus).toMatch(/^shield; hit.*detail=redis/);
    const second = await b.get("/shared");
    expect(second.cacheStatus).toMatch(/^shield; hit/);
    expect(second.cacheStatus).not.toContain("redis");
    expect(origin.count()).toBe(1);
  });

  it("a purge on one node reaches every node and the Redis tier within a second", async () => {
    for (const n of nodes) expect((await n.get("/page")).body).toBe("v1 /page");
    await Promise.all(nodes.map((n) => n.shield.drain()));
    expect(origin.count()).toBe(1);
    version = 2;
    const res = await fetch(`${nodes[0]?.url}/__shield/purge`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ urls: ["http://example.com/page"] }),
    });
    expect(res.status).toBe(200);
    const report = (await res.json()) as { purged: Record<string, unknown> };
    expect(report.purged).toEqual({ local: 1, nodes: 2, redis: 1, edge: "off" });
    // Each node misses and fetches the new version (one fetch for the cluster).
    const took = await waitFor("every node serves v2", async () => {
      const bodies = await Promise.all(nodes.map((n) => n.get("/page")));
      return bodies.every((b) => b.body === "v2 /page");
    });
    expect(took).toBeLessThan(1000);
    expect(origin.count()).toBe(2);
    expect(await metric(nodes[1] as Node, "shield_purge_messages_total", "received")).toBe(1);
    expect(await metric(nodes[0] as Node, "shield_purge_messages_total", "sent")).toBe(1);
  });

  it("Redis stopped under load costs no client an error; restarted, the nodes share again by themselves", async () => {
    const [a, b] = nodes as [Node, Node, Node];
    const load = async (node: Node, prefix: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await node.get(`/${prefix}/${i % 5}`)).status);
      return statuses;
    };
    const running = Promise.all([load(a, "x"), load(b, "y")]);
    await redis.stop();
    const statuses = (await running).flat();
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await redisState(a)).toBe("down");
    // Without Redis each node stands alone: both fetch a new key.
    expect((await a.get("/alone")).status).toBe(200);
    expect((await b.get("/alone")).status).toBe(200);

    await redis.start();
    await waitFor(
      "the nodes reconnect",
      async () => {
        const states = await Promise.all([a, b].map(redisState));
        return states.every((s) => s === "up");
      },
      5000,
    );
    await a.get("/after");
    await a.shield.drain();
    const before = origin.count();
    expect((await b.get("/after")).cacheStatus).toMatch(/detail=redis/);
    expect(origin.count()).toBe(before);
  });
});

describeWithRedis("purging the edge through Cloudflare's API", () => {
  let redis: RedisServer;
  let origin: TestOrigin;
  let api: Server;
  const calls: { path: string; auth: string | undefined; body: unknown }[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    origin = await startOrigin();
    api = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        calls.push({
          path: req.url ?? "",
          auth: req.headers.authorization,
          body: JSON.parse(Buffer.concat(chunks).toString() || "null"),
        });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: true, errors: [], messages: [], result: { id: ZONE } }));
      });
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => api.close(() => resolve()));
    await origin.close();
    await redis.close();
  });

  it("a URL purge is sent to the zone as the tag every edge entry of that URL carries", async () => {
    const apiBase = `http://127.0.0.1:${(api.address() as AddressInfo).port}/client/v4`;
    const node = await startNode(
      origin.url,
      redis.url,
      { cloudflare: { zoneId: ZONE, apiBase } },
      "cf-token-abc",
    );
    try {
      const res = await fetch(`${node.url}/__shield/purge`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ urls: ["http://example.com/a?b=1&a=2"], tags: ["all"] }),
      });
      const report = (await res.json()) as { purged: { edge: string } };
      expect(report.purged.edge).toBe("ok");
      const paths = calls.map((c) => c.path);
      expect(new Set(paths)).toEqual(new Set([`/client/v4/zones/${ZONE}/purge_cache`]));
      expect(calls.every((c) => c.auth === "Bearer cf-token-abc")).toBe(true);
      const tags = calls.flatMap((c) => (c.body as { tags?: string[] }).tags ?? []);
      // The query is normalised (sorted) exactly as the edge keys it.
      expect(tags).toContain(urlPurgeTag("http://example.com/a?a=2&b=1"));
      expect(tags).toContain("all");
    } finally {
      await node.close();
    }
  });
});
