#!/usr/bin/env node
// `npm start`: the whole local stack on 127.0.0.1 — the demo origin, one origin shield in
// front of it, and the edge Worker under `wrangler dev` in front of the shield. It waits
// until each answers its health URL, prints where to send requests, and stops everything
// it started on Ctrl-C, or when any one of them dies (exit code 1).
//
// Plain JavaScript, not TypeScript: `npm start` must work with nothing but node, and the
// file is imported by tests/examples/start.test.ts for its exported runner.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
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

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CONFIG_FILE = "examples/shield.config.json";
/** Where main() builds the shield (relative to the repository root). */
const SHIELD_BUNDLE = "dist/origin-shield/main.mjs";
/** The origin URL written in CONFIG_FILE; rewritten when --origin-port differs. */
const CONFIG_ORIGIN_URL = `http://${HOST}:${DEFAULT_PORTS.origin}`;
/** Lines of each process's output kept to explain a failure. */
const TAIL_LINES = 20;
const COLORS = { origin: 36, shield: 35, edge: 33, start: 1 };

const USAGE = `Usage: npm start -- [--origin-port N] [--shield-port N] [--edge-port N]

Runs the local edge-cdn stack on ${HOST}, no account or network needed:
  demo origin   examples/demo-origin.ts                 port ${DEFAULT_PORTS.origin}
  origin shield origin-shield/main.ts → the origin      port ${DEFAULT_PORTS.shield}
  edge Worker   wrangler dev (workers/) → the shield    port ${DEFAULT_PORTS.edge}
The shield and the edge read ${CONFIG_FILE}. Ctrl-C stops all three.

Options:
  --origin-port N   port of the demo origin (default ${DEFAULT_PORTS.origin})
  --shield-port N   port of the origin shield (default ${DEFAULT_PORTS.shield})
  --edge-port N     port of the edge Worker (default ${DEFAULT_PORTS.edge})
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
 * @returns {{ help: true } | { help: false, ports: { origin: number, shield: number, edge: number } }}
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
    if (raw === undefined) continue;
    const n = Number(raw);
    // Port 0 is refused: the URLs are printed and handed between processes up front.
    if (!/^\d{1,5}$/.test(raw) || n < 1 || n > 65535) {
      throw new UsageError(`--${name}-port must be an integer from 1 to 65535, got "${raw}"`);
    }
    ports[name] = n;
  }
  if (new Set(Object.values(ports)).size !== 3) {
    throw new UsageError(
      `the three ports must differ, got origin ${ports.origin}, shield ${ports.shield}, edge ${ports.edge}`,
    );
  }
  return { help: false, ports };
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
 * @property {number} timeoutMs     how long it may take to become ready
 */

/**
 * The three processes of the stack.
 *
 * @param {{ origin: number, shield: number, edge: number }} ports
 * @param {{ path: string, json: string }} config
 * @returns {ProcessSpec[]}
 */
export function stackPlan(ports, config) {
  const bin = (name) => join(ROOT, "node_modules", ".bin", name);
  const origin = `http://${HOST}:${ports.origin}`;
  const shield = `http://${HOST}:${ports.shield}`;
  const edge = `http://${HOST}:${ports.edge}`;
  // The shield runs as `npm run shield` runs it: the bundle main() builds first (see
  // build-node.mjs), with the demo config, which names the origin and its hosts.
  const shieldArgs = [
    SHIELD_BUNDLE,
    "--port",
    String(ports.shield),
    "--host",
    HOST,
    "--config",
    config.path,
  ];
  const edgeArgs = ["dev", "--ip", HOST, "--port", String(ports.edge)];
  return [
    {
      name: "origin",
      command: bin("tsx"),
      args: ["examples/demo-origin.ts", "--port", String(ports.origin), "--host", HOST],
      url: origin,
      readyUrl: `${origin}/__origin/stats`,
      timeoutMs: 20_000,
    },
    {
      name: "shield",
      command: process.execPath,
      args: shieldArgs,
      url: shield,
      readyUrl: `${shield}/__shield/health`,
      timeoutMs: 20_000,
    },
    {
      name: "edge",
      // node_modules/.bin/wrangler, not npx, so that its process group holds workerd too.
      command: bin("wrangler"),
      args: [
        ...edgeArgs,
        "--var",
        `${SHIELD_NODES_VAR}:${shield}`,
        "--var",
        `${EDGE_CONFIG_VAR}:${config.json}`,
      ],
      display: `wrangler ${edgeArgs.join(" ")} --var ${SHIELD_NODES_VAR}:${shield} --var ${EDGE_CONFIG_VAR}:<${config.path}>`,
      // No account and no network: without this wrangler tries to send usage metrics.
      env: { WRANGLER_SEND_METRICS: "false" },
      url: edge,
      readyUrl: `${edge}/__edge/health`,
      // The first `wrangler dev` on a machine bundles the Worker and starts workerd.
      timeoutMs: 60_000,
    },
  ];
}

/**
 * Fails with a message naming the process when its port is taken. Without this, a stale
 * process from an earlier run would answer the health check and pass for the new one.
 *
 * @param {string} name
 * @param {number} port
 */
export function assertPortFree(name, port) {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", (err) => {
      const why =
        /** @type {NodeJS.ErrnoException} */ (err).code === "EADDRINUSE"
          ? "is in use"
          : `cannot be used (${err.message})`;
      fail(
        new StackError(
          `${name}: port ${port} on ${HOST} ${why}; stop what runs there or pass --${name}-port`,
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
    const code = COLORS[name] ?? 32;
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
          try {
            const res = await fetch(spec.readyUrl, {
              signal: AbortSignal.timeout(Math.min(2_000, Math.max(left, 1))),
            });
            if (res.ok) {
              await res.body?.cancel();
              return;
            }
            last = `HTTP ${res.status} ${(await res.text()).slice(0, 300).trim()}`;
          } catch (err) {
            last = describeFetchError(err);
          }
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
  # how many requests reached the origin, per path
  curl -s ${origin}/__origin/stats

Press Ctrl-C to stop all three.
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
  const { ports } = flags;
  try {
    for (const name of /** @type {const} */ (["origin", "shield", "edge"])) {
      await assertPortFree(name, ports[name]);
    }
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
  const stack = runStack(stackPlan(ports, config), { color });

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
    process.stdout.write(banner(ports, color));
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
