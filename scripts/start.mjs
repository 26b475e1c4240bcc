#!/usr/bin/env node
// `npm start`: the whole local stack on 127.0.0.1 — the demo origin, one origin shield in
// front of it, and the edge Worker under `wrangler dev` in front of the shield. It waits
// until each answers its health URL, prints where to send requests, and stops everything
// it started on Ctrl-C, or when any one of them dies (exit code 1).
//
// `npm start -- --cluster`: the same with three shields sharing a private redis-server
// (Debian's package, found on PATH), each with a disk tier of its own, and the Worker
// spreading misses over the three.
//
// Plain JavaScript, not TypeScript: `npm start` must work with nothing but node, and the
// file is imported by tests/examples/start.test.ts for its exported runner.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildNode } from "./build-node.mjs";

/** The Worker var naming its shield nodes (comma-separated base URLs). */
export const SHIELD_NODES_VAR = "SHIELD_NODES";
/** The Worker var holding the CDN config JSON, the same document the shield reads. */
export const EDGE_CONFIG_VAR = "CDN_CONFIG";
export const HOST = "127.0.0.1";
export const DEFAULT_PORTS = Object.freeze({ origin: 9000, shield: 8080, edge: 8787 });
/** Shields of `--cluster`, on consecutive ports from --shield-port. */
export const CLUSTER_SIZE = 3;
/** The executable `--cluster` runs, and the Debian/Ubuntu package that installs it. */
export const REDIS_BINARY = "redis-server";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CONFIG_FILE = "examples/shield.config.json";
/** Where main() builds the shield (relative to the repository root). */
const SHIELD_BUNDLE = "dist/origin-shield/main.mjs";
/** The origin URL written in CONFIG_FILE; rewritten when --origin-port differs. */
const CONFIG_ORIGIN_URL = `http://${HOST}:${DEFAULT_PORTS.origin}`;
/** Lines of each process's output kept to explain a failure. */
const TAIL_LINES = 20;
/** Output colours by process name (a cluster's "shield-2" takes the colour of "shield"). */
const COLORS = { origin: 36, shield: 35, edge: 33, redis: 31, start: 1 };

const USAGE = `Usage: npm start -- [--origin-port N] [--shield-port N] [--edge-port N]
                    [--cluster [--redis-port N]] [--jpeg-only]

Runs the local edge-cdn stack on ${HOST}, no account or network needed:
  demo origin   examples/demo-origin.ts                 port ${DEFAULT_PORTS.origin}
  origin shield origin-shield/main.ts → the origin      port ${DEFAULT_PORTS.shield}
  edge Worker   wrangler dev (workers/) → the shield    port ${DEFAULT_PORTS.edge}
The shield and the edge read ${CONFIG_FILE}. Ctrl-C stops all three.

With --cluster, ${CLUSTER_SIZE} shields sharing a private Redis instead of one shield:
  Redis         ${REDIS_BINARY} from PATH, not persisted     a free port, or --redis-port
  shield-1..${CLUSTER_SIZE}   each: memory, disk and the Redis tier     ports ${DEFAULT_PORTS.shield}-${DEFAULT_PORTS.shield + CLUSTER_SIZE - 1}
  edge Worker   SHIELD_NODES lists the ${CLUSTER_SIZE} shields
The shields share hits through Redis, fetch each key once for the whole cluster and
pass purges on to each other. ${REDIS_BINARY} comes from Debian's (or Ubuntu's) package
of that name: apt-get install ${REDIS_BINARY}. Ctrl-C stops everything.

Options:
  --origin-port N   port of the demo origin (default ${DEFAULT_PORTS.origin})
  --shield-port N   port of the origin shield (default ${DEFAULT_PORTS.shield}); with --cluster,
                    of the first shield, the others on the next ports
  --edge-port N     port of the edge Worker (default ${DEFAULT_PORTS.edge})
  --cluster         run ${CLUSTER_SIZE} shields sharing a private Redis
  --redis-port N    port of that Redis (default: a free one); needs --cluster
  --jpeg-only       the demo origin serves only its JPEG and PNG originals (no AVIF or
                    WebP of its own): what AVIF and WebP clients get is the shield's
                    conversion
  -h, --help        show this help`;

export class UsageError extends Error {}

/** A process that failed to start or to become ready; the message names it and quotes its output. */
export class StackError extends Error {
  /**
   * @param {string} message
   * @param {{ processName?: string, stopped?: boolean }} [info]
   */
  constructor(message, info = {}) {
    super(message);
    this.processName = info.processName;
    /** True when startup was cut short by stop(), not by a failure. */
    this.stopped = info.stopped === true;
  }
}

/**
 * @param {string[]} argv
 * @returns {{ help: true } | { help: false, ports: { origin: number, shield: number, edge: number }, cluster: boolean, redisPort: number | null, jpegOnly: boolean }}
 */
export function parseFlags(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "origin-port": { type: "string" },
        "shield-port": { type: "string" },
        "edge-port": { type: "string" },
        cluster: { type: "boolean" },
        "redis-port": { type: "string" },
        "jpeg-only": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(/** @type {Error} */ (err).message);
  }
  if (values.help) return { help: true };
  const ports = { ...DEFAULT_PORTS };
  for (const name of /** @type {const} */ (["origin", "shield", "edge"])) {
    const raw = values[`${name}-port`];
    if (raw !== undefined) ports[name] = portFlag(name, raw);
  }
  const cluster = values.cluster === true;
  const jpegOnly = values["jpeg-only"] === true;
  if (!cluster) {
    if (values["redis-port"] !== undefined) {
      throw new UsageError("--redis-port needs --cluster (without it no Redis is started)");
    }
    if (new Set(Object.values(ports)).size !== 3) {
      throw new UsageError(
        `the three ports must differ, got origin ${ports.origin}, shield ${ports.shield}, edge ${ports.edge}`,
      );
    }
    return { help: false, ports, cluster, redisPort: null, jpegOnly };
  }
  const redisRaw = values["redis-port"];
  const redisPort = redisRaw === undefined ? null : portFlag("redis", redisRaw);
  const last = ports.shield + CLUSTER_SIZE - 1;
  if (last > 65535) {
    throw new UsageError(
      `--shield-port must leave room for ${CLUSTER_SIZE} shields with --cluster (at most ${65536 - CLUSTER_SIZE}), got ${ports.shield}`,
    );
  }
  const taken = [ports.origin, ports.edge, ...(redisPort === null ? [] : [redisPort])];
  const shields = clusterPorts(ports.shield);
  if (new Set(taken).size !== taken.length || taken.some((port) => shields.includes(port))) {
    const redis = redisPort === null ? "" : `, redis ${redisPort}`;
    throw new UsageError(
      `the ports must differ, got origin ${ports.origin}, shields ${ports.shield}-${last}, edge ${ports.edge}${redis}`,
    );
  }
  return { help: false, ports, cluster, redisPort, jpegOnly };
}

/**
 * @param {string} name
 * @param {string} raw
 */
function portFlag(name, raw) {
  const n = Number(raw);
  // Port 0 is refused: the URLs are printed and handed between processes up front.
  if (!/^\d{1,5}$/.test(raw) || n < 1 || n > 65535) {
    throw new UsageError(`--${name}-port must be an integer from 1 to 65535, got "${raw}"`);
  }
  return n;
}

/** The ports of a cluster's shields, from the first. @param {number} first */
export function clusterPorts(first) {
  return Array.from({ length: CLUSTER_SIZE }, (_, index) => first + index);
}

/**
 * The config the stack runs with: CONFIG_FILE as is for the default origin port, else a
 * copy in a temporary directory pointing at the origin's actual port, so that the shield
 * and the edge never send the demo's traffic somewhere else.
 *
 * @param {string} originUrl
 * @returns {{ path: string, json: string, cleanup(): void }}
 */
export function stackConfig(originUrl) {
  const text = readFileSync(join(ROOT, CONFIG_FILE), "utf8");
  const config = JSON.parse(text);
  if (originUrl === CONFIG_ORIGIN_URL) {
    return { path: CONFIG_FILE, json: JSON.stringify(config), cleanup() {} };
  }
  for (const origin of config.origins) {
    if (origin.url === CONFIG_ORIGIN_URL) origin.url = originUrl;
  }
  const dir = mkdtempSync(join(tmpdir(), "edge-cdn-start-"));
  const path = join(dir, "shield.config.json");
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return {
    path,
    json: JSON.stringify(config),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * @typedef {object} ProcessSpec
 * @property {string} name          short label, used as the output prefix
 * @property {string} command
 * @property {string[]} args
 * @property {Record<string, string>} [env]  added to process.env
 * @property {string} [display]     the command line to print (when args hold long values)
 * @property {string} url           the base URL users talk to
 * @property {string} readyUrl      answers 2xx once the process is ready
 * @property {(timeoutMs: number) => Promise<string | null>} [ready]
 *   instead of an HTTP GET of readyUrl: null once the process is ready, else what it gave
 * @property {number} timeoutMs     how long it may take to become ready
 */

/**
 * The three processes of the stack.
 *
 * @param {{ origin: number, shield: number, edge: number, inspector?: number }} ports
 * @param {{ path: string, json: string }} config
 * @param {{ jpegOnly?: boolean }} [demo]  how the demo origin runs
 * @returns {ProcessSpec[]}
 */
export function stackPlan(ports, config, demo = {}) {
  const shield = shieldSpec("shield", ports.shield, config.path);
  return [
    originSpec(ports.origin, demo),
    shield,
    edgeSpec(ports.edge, [shield.url], config, ports.inspector),
  ];
}

/**
 * The processes of `--cluster`: Redis, the origin, the shields, the edge.
 *
 * @param {{ origin: number, shield: number, edge: number, inspector?: number }} ports
 * @param {{ path: string, json: string }} config  what the edge reads
 * @param {ClusterFiles} files
 * @param {{ binary: string, port: number }} redis
 * @param {{ jpegOnly?: boolean }} [demo]  how the demo origin runs
 * @returns {ProcessSpec[]}
 */
export function clusterPlan(ports, config, files, redis, demo = {}) {
  const redisUrl = `redis://${HOST}:${redis.port}`;
  const shields = files.shields.map((node, index) => {
    const spec = shieldSpec(node.name, ports.shield + index, node.path);
    return {
      ...spec,
      // The config names this Redis already; the variable would override it, so a
      // SHIELD_REDIS_URL in the user's environment must not point the demo elsewhere.
      env: { SHIELD_REDIS_URL: redisUrl },
      // Ready once Redis and the disk tier are up too, so that the banner comes when the
      // cluster works as one.
      ready: (timeoutMs) => tiersUp(spec.readyUrl, timeoutMs),
    };
  });
  const args = [
    "--port",
    String(redis.port),
    "--bind",
    HOST,
    // A cache's scratch Redis: nothing written to disk, nothing to clean up but its dir.
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    files.redisDir,
    "--daemonize",
    "no",
    // Its start-up banner says nothing a user of the demo needs.
    "--loglevel",
    "warning",
  ];
  return [
    {
      name: "redis",
      command: redis.binary,
      args,
      display: `${REDIS_BINARY} ${args.map((arg) => (arg === "" ? "''" : arg)).join(" ")}`,
      url: redisUrl,
      readyUrl: redisUrl,
      ready: (timeoutMs) => redisPing(redis.port, timeoutMs),
      timeoutMs: 10_000,
    },
    originSpec(ports.origin, demo),
    ...shields,
    edgeSpec(
      ports.edge,
      shields.map((spec) => spec.url),
      config,
      ports.inspector,
    ),
  ];
}

/** @param {number} port @param {{ jpegOnly?: boolean }} demo @returns {ProcessSpec} */
function originSpec(port, demo) {
  const url = `http://${HOST}:${port}`;
  const args = ["examples/demo-origin.ts", "--port", String(port), "--host", HOST];
  return {
    name: "origin",
    command: bin("tsx"),
    args: demo.jpegOnly === true ? [...args, "--jpeg-only"] : args,
    url,
    readyUrl: `${url}/__origin/stats`,
    timeoutMs: 20_000,
  };
}

/**
 * The shield runs as `npm run shield` runs it: the bundle main() builds first (see
 * build-node.mjs), with a config that names the origin and its hosts.
 *
 * @param {string} name
 * @param {number} port
 * @param {string} configPath
 * @returns {ProcessSpec}
 */
function shieldSpec(name, port, configPath) {
  const url = `http://${HOST}:${port}`;
  return {
    name,
    command: process.execPath,
    args: [SHIELD_BUNDLE, "--port", String(port), "--host", HOST, "--config", configPath],
    url,
    readyUrl: `${url}/__shield/health`,
    timeoutMs: 20_000,
  };
}

/**
 * @param {number} port
 * @param {string[]} shields  base URLs of the shield nodes
 * @param {{ path: string, json: string }} config
 * @param {number} [inspector]  the port of workerd's inspector; wrangler's default is 9229,
 *   which a second wrangler dev (or a `node --inspect`) starting at the same time also takes
 * @returns {ProcessSpec}
 */
function edgeSpec(port, shields, config, inspector) {
  const url = `http://${HOST}:${port}`;
  const edgeArgs = ["dev", "--ip", HOST, "--port", String(port)];
  if (inspector !== undefined) edgeArgs.push("--inspector-port", String(inspector));
  const nodes = shields.join(",");
  return {
    name: "edge",
    // node_modules/.bin/wrangler, not npx, so that its process group holds workerd too.
    command: bin("wrangler"),
    args: [
      ...edgeArgs,
      "--var",
      `${SHIELD_NODES_VAR}:${nodes}`,
      "--var",
      `${EDGE_CONFIG_VAR}:${config.json}`,
    ],
    display: `wrangler ${edgeArgs.join(" ")} --var ${SHIELD_NODES_VAR}:${nodes} --var ${EDGE_CONFIG_VAR}:<${config.path}>`,
    // No account and no network: without this wrangler tries to send usage metrics.
    env: { WRANGLER_SEND_METRICS: "false" },
    url,
    readyUrl: `${url}/__edge/health`,
    // The first `wrangler dev` on a machine bundles the Worker and starts workerd.
    timeoutMs: 60_000,
  };
}

/** @param {string} name */
const bin = (name) => join(ROOT, "node_modules", ".bin", name);

/**
 * @typedef {object} ClusterFiles
 * @property {{ name: string, path: string, diskDir: string }[]} shields  each shield's config file and disk tier
 * @property {string} redisDir  Redis's working directory
 * @property {string} purgeToken  the bearer token of POST /__shield/purge on every shield
 * @property {() => void} cleanup  removes all of it
 */

/**
 * The shields' configs for `--cluster`, in a temporary directory that also holds each
 * shield's disk tier and Redis's working directory: the stack's config plus a name, the
 * private Redis, a disk tier and a purge token (SHIELD_PURGE_TOKEN when set, as the
 * shield itself would take it; else a random one, printed in the banner).
 *
 * @param {{ json: string }} config
 * @param {string} redisUrl
 * @param {string} [purgeToken]
 * @returns {ClusterFiles}
 */
export function clusterFiles(config, redisUrl, purgeToken) {
  const token = purgeToken || randomBytes(16).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "edge-cdn-cluster-"));
  const redisDir = join(dir, "redis");
  mkdirSync(redisDir);
  const shields = Array.from({ length: CLUSTER_SIZE }, (_, index) => {
    const name = `shield-${index + 1}`;
    const diskDir = join(dir, name, "disk");
    mkdirSync(diskDir, { recursive: true });
    const base = JSON.parse(config.json);
    const node = {
      ...base,
      shield: {
        ...base.shield,
        name,
        purgeToken: token,
        redis: { url: redisUrl },
        disk: { dir: diskDir, maxBytes: 256 * 1024 * 1024, maxObjectBytes: 16 * 1024 * 1024 },
      },
    };
    const path = join(dir, name, "shield.config.json");
    writeFileSync(path, `${JSON.stringify(node, null, 2)}\n`);
    return { name, path, diskDir };
  });
  return {
    shields,
    redisDir,
    purgeToken: token,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The first executable called `name` in the PATH directories, or null.
 *
 * @param {string} name
 * @param {string} [path]
 */
export function findOnPath(name, path = process.env.PATH ?? "") {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here: try the next
    }
  }
  return null;
}

/** A port nothing listens on now: the kernel's pick for a socket bound to port 0. */
export function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => done(port));
    });
  });
}

/**
 * PING over a fresh connection: null once Redis answers PONG, else what happened.
 *
 * @param {number} port
 * @param {number} timeoutMs
 * @returns {Promise<string | null>}
 */
function redisPing(port, timeoutMs) {
  return new Promise((done) => {
    const socket = connect(port, HOST);
    let reply = "";
    const finish = (/** @type {string | null} */ result) => {
      clearTimeout(timer);
      socket.destroy();
      done(result);
    };
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      reply += data.toString("latin1");
      if (reply.includes("\r\n")) {
        finish(reply.startsWith("+PONG") ? null : `PING answered ${reply.trim()}`);
      }
    });
    socket.once("error", (err) =>
      finish(
        /** @type {NodeJS.ErrnoException} */ (err).code === "ECONNREFUSED"
          ? "connection refused"
          : err.message,
      ),
    );
  });
}

/**
 * A shield's health: null once it answers and every tier it has is up, else why not.
 *
 * @param {string} url
 * @param {number} timeoutMs
 * @returns {Promise<string | null>}
 */
async function tiersUp(url, timeoutMs) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) return `HTTP ${res.status} ${text.slice(0, 300).trim()}`;
    const tiers = JSON.parse(text).tiers ?? {};
    const down = Object.entries(tiers)
      .filter(([, tier]) => tier !== null && tier.state !== "up")
      .map(([name, tier]) => `${name} ${tier.state}`);
    return down.length === 0 ? null : `tiers not up yet: ${down.join(", ")}`;
  } catch (err) {
    return describeFetchError(err);
  }
}

/**
 * Fails with a message naming the process when its port is taken. Without this, a stale
 * process from an earlier run would answer the health check and pass for the new one.
 *
 * @param {string} name
 * @param {number} port
 * @param {string} [flag]  the flag that moves it
 */
export function assertPortFree(name, port, flag = `--${name}-port`) {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", (err) => {
      const why =
        /** @type {NodeJS.ErrnoException} */ (err).code === "EADDRINUSE"
          ? "is in use"
          : `cannot be used (${err.message})`;
      fail(
        new StackError(
          `${name}: port ${port} on ${HOST} ${why}; stop what runs there or pass ${flag}`,
          { processName: name },
        ),
      );
    });
    probe.listen(port, HOST, () => probe.close(() => done(undefined)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {{ code: number | null, signal: string | null, error?: Error }} e */
function describeExit(e) {
  if (e.error) return `could not start: ${e.error.message}`;
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

/** Why a health poll failed, in a few words (fetch's own message is just "fetch failed"). */
function describeFetchError(err) {
  const cause = err?.cause;
  if (cause?.code === "ECONNREFUSED") return "connection refused";
  if (err?.name === "TimeoutError") return "no answer within 2 s";
  return cause?.code ?? cause?.message ?? err?.message ?? String(err);
}

/**
 * Starts the processes, each in its own process group, so that stopping one also stops
 * what it started (the demo origin's tsx node child, wrangler's workerd). Their output is prefixed with
 * their name.
 *
 * - `ready` resolves once every readyUrl answered 2xx; it rejects with a StackError naming
 *   the first process that exited or timed out (with its last output lines), after
 *   stopping all of them.
 * - Once ready, a process that exits stops the others, and `done` resolves to 1.
 * - `stop()` stops them all (SIGTERM, SIGKILL after `graceMs`); `done` resolves to 0.
 *   `stop({ force: true })` sends SIGKILL at once (a second Ctrl-C).
 * - `done` resolves once every process has exited.
 *
 * @param {ProcessSpec[]} specs
 * @param {{ out?: NodeJS.WritableStream, color?: boolean, pollMs?: number, graceMs?: number }} [options]
 */
export function runStack(specs, options = {}) {
  const out = options.out ?? process.stdout;
  const color = options.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR);
  const pollMs = options.pollMs ?? 250;
  const graceMs = options.graceMs ?? 5_000;
  const width = Math.max(5, ...specs.map((s) => s.name.length));
  const label = (name) => {
    const text = name.padEnd(width);
    const code = COLORS[name.replace(/-\d+$/, "")] ?? 32;
    return color ? `\x1b[${code}m${text}\x1b[0m │` : `${text} │`;
  };
  const log = (line) => out.write(`${label("start")} ${line}\n`);

  /** @type {"starting" | "running" | "stopping"} */
  let phase = "starting";
  let exitCode = 0;
  /** @type {Promise<void> | undefined} */
  let stopping;
  const children = specs.map((spec) => startChild(spec));

  function startChild(spec) {
    const prefix = label(spec.name);
    const tail = [];
    const display = spec.display ?? [spec.command, ...spec.args].join(" ");
    out.write(`${prefix} $ ${display.replace(`${ROOT}/`, "")}\n`);
    const proc = spawn(spec.command, spec.args, {
      cwd: ROOT,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: process.platform !== "win32",
    });
    const onLine = (line) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      out.write(`${prefix} ${line}\n`);
    };
    let open = 0;
    /** @type {() => void} */
    let outputEnded = () => {};
    const ended = new Promise((r) => {
      outputEnded = r;
    });
    for (const stream of [proc.stdout, proc.stderr]) {
      open++;
      const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on("line", onLine);
      lines.on("close", () => {
        if (--open === 0) outputEnded();
      });
    }
    /** @type {{ code: number | null, signal: string | null, error?: Error } | null} */
    let exit = null;
    /** @type {Promise<{ code: number | null, signal: string | null, error?: Error }>} */
    const exited = new Promise((resolveExit) => {
      proc.once("error", (error) => {
        // Only a failed spawn ends the child here; a failed kill() also lands on "error".
        if (proc.pid === undefined && exit === null) {
          exit = { code: null, signal: null, error };
          outputEnded();
          resolveExit(exit);
        }
      });
      proc.once("exit", (code, signal) => {
        exit = { code, signal };
        resolveExit(exit);
      });
    });

    /** Signals the child's whole process group; a group already gone is fine. */
    const signal = (sig) => {
      if (proc.pid === undefined) return false;
      try {
        if (process.platform === "win32") proc.kill(sig);
        else process.kill(-proc.pid, sig);
        return true;
      } catch (err) {
        if (err.code === "ESRCH") return false;
        throw err;
      }
    };

    /** The last output lines, once the pipes have drained (or a moment has passed). */
    const lastOutput = async () => {
      await Promise.race([ended, sleep(500)]);
      if (tail.length === 0) return "(it printed nothing)";
      return `Its last output:\n${tail.map((l) => `  | ${l}`).join("\n")}`;
    };

    /** The default readiness check: a 2xx from readyUrl. @param {number} timeoutMs */
    const httpReady = async (timeoutMs) => {
      try {
        const res = await fetch(spec.readyUrl, { signal: AbortSignal.timeout(timeoutMs) });
        if (res.ok) {
          await res.body?.cancel();
          return null;
        }
        return `HTTP ${res.status} ${(await res.text()).slice(0, 300).trim()}`;
      } catch (err) {
        return describeFetchError(err);
      }
    };

    return {
      spec,
      proc,
      exited,
      get exit() {
        return exit;
      },
      lastOutput,
      signal,
      async waitReady(stopSignal) {
        const deadline = Date.now() + spec.timeoutMs;
        let last = "no answer yet";
        for (;;) {
          if (stopSignal.aborted) {
            throw new StackError(`${spec.name}: stopped before it was ready`, {
              processName: spec.name,
              stopped: true,
            });
          }
          if (exit !== null) {
            throw new StackError(
              `${spec.name} exited before it was ready (${describeExit(exit)}). ${await lastOutput()}`,
              { processName: spec.name },
            );
          }
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new StackError(
              `${spec.name} was not ready after ${spec.timeoutMs / 1000} s: ${spec.readyUrl} gave ${last}. ${await lastOutput()}`,
              { processName: spec.name },
            );
          }
          const probeMs = Math.min(2_000, Math.max(left, 1));
          const answer = await (spec.ready ?? httpReady)(probeMs);
          if (answer === null) return;
          last = answer;
          await Promise.race([sleep(pollMs), exited]);
        }
      },
      async stop(force) {
        if (exit === null && signal(force ? "SIGKILL" : "SIGTERM")) {
          const timedOut = await Promise.race([
            exited.then(() => false),
            sleep(force ? 2_000 : graceMs).then(() => true),
          ]);
          if (timedOut) {
            signal("SIGKILL");
            await exited;
          }
        }
        // The child is gone; give what it started a moment to finish, then end any
        // leftover in its group (a grandchild whose parent crashed would outlive us).
        for (let i = 0; i < 20 && signal(0); i++) await sleep(50);
        signal("SIGKILL");
      },
    };
  }

  const startup = new AbortController();
  /** @type {(code: number) => void} */
  let resolveDone = () => {};
  const done = new Promise((r) => {
    resolveDone = r;
  });

  /** @param {{ force?: boolean, code?: number }} [how] */
  function stop(how = {}) {
    // The first reason to stop decides the exit code: a Ctrl-C during startup is not a
    // failure, even though it makes the readiness checks fail afterwards.
    if (phase !== "stopping") exitCode = how.code ?? 0;
    phase = "stopping";
    startup.abort();
    if (how.force) for (const c of children) if (c.exit === null) c.signal("SIGKILL");
    stopping ??= Promise.all(children.map((c) => c.stop(how.force === true))).then(() => {
      resolveDone(exitCode);
    });
    return stopping;
  }

  for (const c of children) {
    c.exited.then(async (e) => {
      // Before "running", waitReady reports it; during "stopping", it is expected.
      if (phase !== "running") return;
      log(
        `${c.spec.name} exited unexpectedly (${describeExit(e)}); stopping the others. ${await c.lastOutput()}`,
      );
      stop({ code: 1 });
    });
  }

  const ready = (async () => {
    try {
      await Promise.all(children.map((c) => c.waitReady(startup.signal)));
      if (phase !== "starting") {
        throw new StackError("stopped before the stack was ready", { stopped: true });
      }
      // One that was ready early may have died while the others were still starting.
      const dead = children.find((c) => c.exit !== null);
      if (dead?.exit) {
        throw new StackError(
          `${dead.spec.name} exited after it was ready (${describeExit(dead.exit)}). ${await dead.lastOutput()}`,
          { processName: dead.spec.name },
        );
      }
      phase = "running";
    } catch (err) {
      // Stop everything before reporting, so that the error is the last thing printed.
      await stop({ code: 1 });
      throw err;
    }
  })();
  // The caller may only await `done`; an unobserved rejection must not crash the process.
  ready.catch(() => {});

  return {
    ready,
    done,
    stop,
    /** PIDs of the started processes (group leaders), for tests and diagnostics. */
    pids: () => children.map((c) => c.proc.pid),
  };
}

/** @param {{ origin: number, shield: number, edge: number }} ports */
export function banner(ports, color = false) {
  const origin = `http://${HOST}:${ports.origin}`;
  const shield = `http://${HOST}:${ports.shield}`;
  const edge = `http://${HOST}:${ports.edge}`;
  const b = (s) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const show = "-s -o /dev/null -D -";
  const grep = (fields) => `| grep -iE '^(${fields}):'`;
  return `
${b("The local edge-cdn stack is up.")}
  edge Worker    ${b(edge)}   ← send requests here
  origin shield  ${shield}   health: ${shield}/__shield/health
  demo origin    ${origin}   counters: ${origin}/__origin/stats

Try:
  # the HTML page twice: the first goes through the shield to the origin, the second is an edge hit
  curl ${show} ${edge}/ ${grep("cache-status")}
  curl ${show} ${edge}/ ${grep("cache-status")}
  # one image, three variants negotiated from Accept (the variant is part of the cache key)
  curl ${show} -H 'Accept: image/avif' ${edge}/images/hero.jpg ${grep("content-type|cache-status")}
  curl ${show} -H 'Accept: image/webp' ${edge}/images/hero.jpg ${grep("content-type|cache-status")}
  curl ${show} -H 'Accept:' ${edge}/images/hero.jpg ${grep("content-type|cache-status")}
  # an on-demand transform: 480 px wide, AVIF or WebP from Accept, made by the shield with sharp
  curl ${show} -H 'Accept: image/avif,image/webp' ${edge}/img/width=480,format=auto/images/hero.jpg ${grep("content-type|content-length|cache-status")}
  # JSON the origin sends uncompressed, as br and as gzip: both from one origin fetch
  curl ${show} -H 'Accept-Encoding: br' ${edge}/api/catalog ${grep("content-encoding|content-length|cache-status")}
  curl ${show} -H 'Accept-Encoding: gzip' ${edge}/api/catalog ${grep("content-encoding|content-length|cache-status")}
  # how many requests reached the origin, per path
  curl -s ${origin}/__origin/stats

Press Ctrl-C to stop all three.
`;
}

/**
 * What `--cluster` started, and how to see the shields work as one.
 *
 * @param {{ origin: number, shield: number, edge: number }} ports
 * @param {number} redisPort
 * @param {{ purgeToken: string, shields: { diskDir: string }[] }} files
 */
export function clusterBanner(ports, redisPort, files, color = false) {
  const origin = `http://${HOST}:${ports.origin}`;
  const shields = clusterPorts(ports.shield).map((port) => `http://${HOST}:${port}`);
  const edge = `http://${HOST}:${ports.edge}`;
  const b = (s) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const show = "-s -o /dev/null -D -";
  const grep = (fields) => `| grep -iE '^(${fields}):'`;
  // Every shield must see the same Host, as behind the edge: the cache key holds it, and
  // curl would otherwise send each shield's own port.
  const host = `-H 'Host: ${HOST}'`;
  const [first, second, third] = shields;
  const purge = `-X POST -H 'Authorization: Bearer ${files.purgeToken}' -H 'Content-Type: application/json'`;
  return `
${b("The local edge-cdn cluster is up.")}
  edge Worker    ${b(edge)}   ← send requests here (SHIELD_NODES: the ${CLUSTER_SIZE} shields)
${shields.map((url, index) => `  shield-${index + 1}       ${url}   health: ${url}/__shield/health`).join("\n")}
  Redis          redis://${HOST}:${redisPort}   shared by the shields (private, not persisted)
  demo origin    ${origin}   counters: ${origin}/__origin/stats
Each shield has a memory tier, a disk tier (${dirname(dirname(files.shields[0]?.diskDir ?? ""))}/shield-N/disk)
and the Redis tier the ${CLUSTER_SIZE} share.

Try:
  # the HTML page through the edge: a miss at the edge, fetched by the shield its key maps to
  curl ${show} ${edge}/ ${grep("cache-status")}
  # one shield fetches a page from the origin; another then finds it in Redis (detail=redis)
  curl ${show} ${host} ${first}/api/tagged ${grep("cache-status")}
  curl ${show} ${host} ${second}/api/tagged ${grep("cache-status")}
  # purge by tag on a third: Redis and the other shields drop it too ("nodes": ${CLUSTER_SIZE - 1})
  curl -s ${purge} -d '{"tags":["demo"]}' ${third}/__shield/purge
  # each shield's tiers: memory, disk and redis, each "up" or "down"
  curl -s ${first}/__shield/health
  # how many requests reached the origin, per path
  curl -s ${origin}/__origin/stats

Press Ctrl-C to stop everything.
`;
}

async function main(argv) {
  let flags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`npm start: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const { ports, cluster } = flags;
  /** @type {{ binary: string, port: number } | null} */
  let redis = null;
  if (cluster) {
    const binary = findOnPath(REDIS_BINARY);
    if (binary === null) {
      console.error(
        `npm start: --cluster needs ${REDIS_BINARY}, which is not on PATH. Install it (Debian/Ubuntu: sudo apt-get install ${REDIS_BINARY}; the package of the same name elsewhere), or run without --cluster.`,
      );
      return 1;
    }
    redis = { binary, port: flags.redisPort ?? (await freePort()) };
  }
  try {
    await assertPortFree("origin", ports.origin);
    if (redis === null) {
      await assertPortFree("shield", ports.shield);
    } else {
      for (const [index, port] of clusterPorts(ports.shield).entries()) {
        await assertPortFree(`shield-${index + 1}`, port, "--shield-port");
      }
    }
    await assertPortFree("edge", ports.edge);
    if (redis !== null) await assertPortFree("redis", redis.port);
  } catch (err) {
    console.error(`npm start: ${err.message}`);
    return 1;
  }

  try {
    await buildNode("origin-shield/main.ts", SHIELD_BUNDLE);
  } catch (err) {
    console.error(`npm start: cannot build the shield: ${err.message}`);
    return 1;
  }
  const config = stackConfig(`http://${HOST}:${ports.origin}`);
  process.on("exit", () => config.cleanup());
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  /** @type {ClusterFiles | null} */
  let files = null;
  if (redis !== null) {
    const made = clusterFiles(
      config,
      `redis://${HOST}:${redis.port}`,
      process.env.SHIELD_PURGE_TOKEN,
    );
    files = made;
    process.on("exit", () => made.cleanup());
  }
  // A free port for workerd's inspector, rather than 9229 for every stack on the machine.
  const planned = { ...ports, inspector: await freePort() };
  const plan =
    redis === null || files === null
      ? stackPlan(planned, config, flags)
      : clusterPlan(planned, config, files, redis, flags);
  const stack = runStack(plan, { color });

  // Safety net: whatever ends this process, do not leave the stack running behind it.
  process.on("exit", () => stack.stop({ force: true }));
  let signals = 0;
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      signals++;
      if (signals === 1) process.stdout.write(`\nnpm start: ${sig}, stopping the stack…\n`);
      else process.stdout.write("npm start: stopping now (SIGKILL)\n");
      stack.stop({ force: signals > 1 });
    });
  }

  try {
    await stack.ready;
    process.stdout.write(
      redis === null || files === null
        ? banner(ports, color)
        : clusterBanner(ports, redis.port, files, color),
    );
  } catch (err) {
    if (!(err instanceof StackError)) throw err;
    if (!err.stopped) console.error(`\nnpm start: ${err.message}`);
  }
  return await stack.done;
}

function isMain() {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
