/**
 * A node that dies while it holds a key's lease: its lease expires and a node that was
 * waiting on it fetches instead, so the waiting client gets its answer rather than an
 * error or a hang. The dying node is a real `npm run shield` process killed with SIGKILL
 * (no goodbye to Redis), beside an in-process node.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { createShield, type Shield } from "../../origin-shield/app.ts";
import { createShieldServer } from "../../origin-shield/transport/server.ts";
import { buildNode } from "../../scripts/build-node.mjs";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { describeWithRedis, type RedisServer, startRedisServer } from "../helpers/redis-server.ts";

const LEASE_MS = 600;

describeWithRedis("a node that dies holding a lease", () => {
  let redis: RedisServer;
  let origin: TestOrigin;
  let dir: string;
  let bundle: string;
  let survivor: { shield: Shield; server: Server; url: string };
  let doomed: ChildProcess | undefined;

  beforeAll(async () => {
    redis = await startRedisServer();
    // The key is slow for whoever fetches it first, fast afterwards.
    let fetched = 0;
    origin = await startOrigin((_req, res) => {
      fetched++;
      const delay = fetched === 1 ? 30_000 : 50;
      const timer = setTimeout(() => {
        res.writeHead(200, { "cache-control": "public, max-age=600" });
        res.end(`fetch ${fetched}`);
      }, delay);
      res.on("close", () => clearTimeout(timer));
    });
    dir = mkdtempSync(join(tmpdir(), "cluster-failover-"));
    bundle = await buildNode("origin-shield/main.ts", "dist/e2e/cluster-shield.mjs");
    const shieldSection = { redis: { url: redis.url, keyPrefix: "f:", leaseMs: LEASE_MS } };
    const raw = {
      origins: [{ name: "o", url: origin.url, hosts: ["example.com"] }],
      shield: shieldSection,
    };
    writeFileSync(join(dir, "config.json"), JSON.stringify(raw));
    const shield = createShield({ config: parseConfig(raw) });
    const server = createShieldServer(shield);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    survivor = {
      shield,
      server,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    };
  });

  afterAll(async () => {
    doomed?.kill("SIGKILL");
    survivor.server.closeAllConnections();
    await new Promise<void>((resolve) => survivor.server.close(() => resolve()));
    await survivor.shield.close();
    await origin.close();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the waiting node takes over once the dead holder's lease expires", async () => {
    const child = spawn(
      process.execPath,
      [bundle, "--config", join(dir, "config.json"), "--port", "0", "--log-level", "silent"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    doomed = child;
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (data: Buffer) => {
        out += data.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      child.once("exit", (code) => reject(new Error(`shield exited (${code}): ${out}`)));
    });
    // The doomed node takes the lease and starts the slow fetch.
    const lost = fetch(`${url}/slow`, { headers: { "x-forwarded-host": "example.com" } }).catch(
      () => null,
    );
    for (let i = 0; i < 200 && origin.count() === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(origin.count()).toBe(1);
    // The survivor misses the same key, finds the lease taken and waits on it.
    const started = Date.now();
    const waiting = fetch(`${survivor.url}/slow`, {
      headers: { "x-forwarded-host": "example.com" },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill("SIGKILL");
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("fetch 2");
    // Within a lease and a poll or two of the death, not the origin's 30 s.
    expect(Date.now() - started).toBeLessThan(LEASE_MS + 2_000);
    const metrics = await (await fetch(`${survivor.url}/__shield/metrics`)).text();
    expect(metrics).toMatch(/shield_lease_waits_total\{result="expired"\} [1-9]/);
    await lost;
  });
});
