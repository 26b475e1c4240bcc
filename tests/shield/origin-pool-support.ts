/**
 * Set-up for the origin pool tests: loopback servers that say who they are and can be
 * killed (every connection reset, the port closed) and brought back on the same port,
 * a shield whose one origin is a pool of them, and closed-loop load through the shield.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";
import type { CdnConfigInput } from "../../core/config/index.ts";
import type { PoolStats, ServerStats } from "../../origin-shield/origin/pool.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";

export interface PoolServerHandle {
  readonly name: string;
  readonly url: string;
  /** Requests received, health checks apart, by method and path. */
  readonly seen: string[];
  /** Their Host and X-Forwarded-Host fields. */
  readonly hosts: string[];
  readonly checks: () => number;
  kill(): Promise<void>;
  revive(): Promise<void>;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers every path with its name, cacheable for a minute; /healthz with 200. */
const named =
  (name: string): Handler =>
  (_req, res) => {
    res.writeHead(200, {
      "content-type": "text/plain",
      "cache-control": "public, max-age=60",
      "x-served-by": name,
    });
    res.end(name);
  };

export async function startPoolServer(name: string, handler?: Handler): Promise<PoolServerHandle> {
  const seen: string[] = [];
  const hosts: string[] = [];
  let checks = 0;
  const answer = handler ?? named(name);
  const server = createServer((req, res) => {
    res.sendDate = false;
    if (req.url === "/healthz") {
      checks++;
      res.writeHead(200, { "content-length": "2" });
      res.end("ok");
      return;
    }
    seen.push(`${req.method} ${req.url}`);
    hosts.push(`${req.headers.host} ${req.headers["x-forwarded-host"]}`);
    answer(req, res);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  let listening = true;
  const kill = async () => {
    if (!listening) return;
    listening = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    seen,
    hosts,
    checks: () => checks,
    kill,
    async revive() {
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      listening = true;
    },
    close: kill,
  };
}

/** A URL where nothing listens: a port just released. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

type OriginInput = CdnConfigInput["origins"][number];

export interface PoolHarness {
  /** A shield whose origin "pool" serves example.com from `servers`. */
  shield(
    servers: NonNullable<OriginInput["servers"]>,
    origin?: Partial<OriginInput>,
    overrides?: Partial<CdnConfigInput>,
  ): TestShield;
  /** Loopback servers, closed after the test. */
  servers(...names: string[]): Promise<PoolServerHandle[]>;
}

/** Call at the top level of a test file: closes what each test started. */
export function poolHarness(): PoolHarness {
  const shields: TestShield[] = [];
  const started: PoolServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(shields.splice(0).map((t) => t.close()));
    await Promise.all(started.splice(0).map((s) => s.close()));
  });
  return {
    shield(servers, origin = {}, overrides = {}) {
      const t = testShield("http://127.0.0.1:9", {
        origins: [{ name: "pool", servers, hosts: ["example.com"], ...origin }],
        ...overrides,
      });
      shields.push(t);
      return t;
    },
    async servers(...names) {
      const made = await Promise.all(names.map((name) => startPoolServer(name)));
      started.push(...made);
      return made;
    },
  };
}

/** The pool's state as /__shield/health reports it. */
export async function poolHealth(t: TestShield): Promise<Omit<PoolStats, "origin">> {
  const health = (await (await t.request("/__shield/health")).json()) as {
    originPools: Record<string, Omit<PoolStats, "origin">>;
  };
  const pool = health.originPools.pool;
  if (pool === undefined) throw new Error("no pool in /__shield/health");
  return pool;
}

export function serverState(pool: Omit<PoolStats, "origin">, url: string): ServerStats {
  const found = pool.servers.find((s) => s.url === url);
  if (found === undefined) throw new Error(`no server ${url}`);
  return found;
}

export interface Answer {
  readonly status: number;
  readonly servedBy: string | null;
}

/**
 * `concurrency` loops, each asking for paths never asked before (every one a miss), until
 * `enough()` says so; every answer goes into `answers`, in order of arrival.
 */
export async function missLoad(
  t: TestShield,
  concurrency: number,
  tag: string,
  answers: Answer[],
  enough: () => boolean,
): Promise<void> {
  let sequence = 0;
  const loop = async () => {
    while (!enough()) {
      // A turn of the event loop each time, so that timers run even if every answer
      // came without I/O.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const res = await t.request(`/${tag}/${sequence++}`);
      await res.arrayBuffer();
      answers.push({ status: res.status, servedBy: res.headers.get("x-served-by") });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Wait for `check` to hold, polling, at most `ms`. */
export async function until(check: () => Promise<boolean>, what: string, ms = 5_000) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}
