/**
 * The cluster as users deploy it, every part a real process: the Worker under
 * `wrangler dev` routing over three shield processes that share a private redis-server,
 * in front of a loopback origin. One shield is killed (SIGKILL) in the middle of a herd
 * it was fetching for: no client sees an error, the herd is answered by the key's next
 * node (which takes over the dead node's lease), and only the dead node's keys move.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildNode } from "../../scripts/build-node.mjs";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { freePort, HOST, processGroup } from "../helpers/processes.ts";
import { describeWithRedis, type RedisServer, startRedisServer } from "../helpers/redis-server.ts";

const NAMES = ["s1", "s2", "s3"] as const;
const PROBES = Array.from({ length: 24 }, (_, i) => `/probe/${i}`);

describeWithRedis("three shields behind the edge, one killed mid-herd", () => {
  const group = processGroup();
  let redis: RedisServer;
  let origin: TestOrigin;
  let dir = "";
  let edge: ChildProcess | undefined;
  let edgeUrl = "";
  const shields = new Map<string, ChildProcess>();

  beforeAll(async () => {
    redis = await startRedisServer();
    origin = await startOrigin((req, res) => {
      const url = req.url ?? "/";
      if (url.startsWith("/probe/")) {
        // Never stored at either tier: every request shows which node the edge chose.
        res.writeHead(200, { "cache-control": "no-store" });
        res.end(url);
        return;
      }
      setTimeout(() => {
        res.writeHead(200, { "cache-control": "public, max-age=300" });
        res.end(`herd body ${url}`);
      }, 1500);
    });
    dir = mkdtempSync(join(tmpdir(), "cluster-stack-"));
    const bundle = await buildNode("origin-shield/main.ts", "dist/e2e/cluster-stack-shield.mjs");
    const ports = await Promise.all(NAMES.map(() => freePort()));
    NAMES.forEach((name, at) => {
      const config = {
        origins: [{ name: "o", url: origin.url, hosts: [HOST] }],
        shield: { name, redis: { url: redis.url, keyPrefix: "stack:", leaseMs: 1000 } },
      };
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(config));
      const port = String(ports[at]);
      const args = [bundle, "--config", file, "--port", port, "--log-level", "warn"];
      shields.set(name, group.launch(name, process.execPath, args));
    });
    await Promise.all(
      NAMES.map((name, at) =>
        group.ready(
          `http://${HOST}:${ports[at]}/__shield/health`,
          shields.get(name) as ChildProcess,
          name,
          20_000,
        ),
      ),
    );
    const edgePort = await freePort();
    const nodes = ports.map((port) => `http://${HOST}:${port}`).join(",");
    const config = { origins: [{ name: "o", url: origin.url, hosts: [HOST] }] };
    ({ child: edge, url: edgeUrl } = await group.startEdge({
      port: edgePort,
      state: join(dir, "wrangler"),
      nodes,
      config,
    }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([group.stop(edge), ...[...shields.values()].map((s) => group.stop(s))]);
    await origin?.close();
    await redis?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /** Which shield answered each probe, by the name in its Cache-Status member. */
  async function owners(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const path of PROBES) {
      const res = await fetch(`${edgeUrl}${path}`);
      expect(res.status).toBe(200);
      await res.text();
      const member = /^(s\d)\b/.exec(res.headers.get("cache-status") ?? "");
      out.set(path, member?.[1] ?? "none");
    }
    return out;
  }

  it("no client sees an error, the next node finishes the herd, and only the dead node's keys move", async () => {
    const before = await owners();
    // Every node owns some of the keys.
    expect(new Set(before.values())).toEqual(new Set(NAMES));

    // A herd on one key through the edge: all of it reaches the key's owner.
    const herd = Array.from({ length: 20 }, () =>
      fetch(`${edgeUrl}/herd`).then(async (res) => ({
        status: res.status,
        body: await res.text(),
        cacheStatus: res.headers.get("cache-status") ?? "",
      })),
    );
    for (let i = 0; i < 300 && origin.count() - PROBES.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const owner = origin.requests.find((r) => r.url === "/herd")?.headers.via;
    const doomed = NAMES.find((name) => String(owner).includes(name));
    expect(doomed).toBeDefined();
    (shields.get(doomed as string) as ChildProcess).kill("SIGKILL");

    const answers = await Promise.all(herd);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toBe("herd body /herd");
    }
    // The killed node's fetch, then one by the node that took its lease: never one each.
    expect(origin.requests.filter((r) => r.url === "/herd").length).toBe(2);

    const after = await owners();
    for (const path of PROBES) {
      const was = before.get(path);
      if (was === doomed) expect(after.get(path)).not.toBe(doomed);
      else expect(after.get(path), path).toBe(was);
    }
  });
});
