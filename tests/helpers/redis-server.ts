/**
 * A private redis-server for one test file or benchmark: a child process on a free
 * loopback port, with no persistence, in a temporary directory of its own. The Redis that
 * may run on the machine's default port is never touched: tests that share it would see
 * each other's keys and could not stop it to test failures.
 *
 * The server can be stopped and started again on the same port (a Redis restart, as the
 * shield sees one) and paused with CLIENT PAUSE (a slow Redis: it accepts connections and
 * commands but answers none until the pause ends).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, it } from "vitest";

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** Start the server again on the same port (after stop); resolves once it answers PING. */
  start(): Promise<void>;
  /** Stop the server (SIGKILL by default: a crash, connections cut without a goodbye). */
  stop(how?: "kill" | "shutdown"): Promise<void>;
  /** Stop answering commands for `ms` (CLIENT PAUSE ALL); connections stay open. */
  pause(ms: number): Promise<void>;
  /** Send one command on a fresh connection and return the raw RESP reply. */
  command(...words: string[]): Promise<string>;
  /** Stop the server and remove its directory. */
  close(): Promise<void>;
}

export interface RedisServerOptions {
  /** Pin the server to this CPU (taskset -c), for benchmarks. */
  readonly cpu?: number | undefined;
}

/** The redis-server executable: $REDIS_SERVER, else the first on PATH; null when none. */
export function redisBinary(): string | null {
  const candidates = [
    process.env.REDIS_SERVER,
    ...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "redis-server")),
    "/usr/bin/redis-server",
    "/usr/local/bin/redis-server",
  ];
  for (const path of candidates) {
    if (path === undefined || path === "" || path === "redis-server") continue;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here: try the next
    }
  }
  return null;
}

/**
 * A describe block that needs a redis-server. Without one the suite is skipped with the
 * reason printed, except under CI (process.env.CI set), where a missing binary is a
 * broken machine setup and must fail rather than pass silently.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisBinary() !== null) {
    describe(name, body);
    return;
  }
  const reason = "redis-server not found (set REDIS_SERVER or install redis-server)";
  if (process.env.CI) {
    describe(name, () => {
      it("needs redis-server", () => {
        throw new Error(reason);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${reason}`);
  describe.skip(name, body);
}

// Servers and directories left by a run that exits without close() (a failed benchmark).
const children = new Set<ChildProcess>();
const directories = new Set<string>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisBinary();
  if (binary === null) throw new Error("redis-server not found");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "redis-test-"));
  directories.add(dir);
  let child: ChildProcess | null = null;

  const spawnServer = async (): Promise<void> => {
    const argv = [
      binary,
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--loglevel",
      "warning",
    ];
    const pinned = options.cpu !== undefined && hasTaskset();
    const [cmd, ...args] = pinned ? ["taskset", "-c", String(options.cpu), ...argv] : argv;
    const proc = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout?.on("data", (data: Buffer) => {
      output += data.toString();
    });
    proc.stderr?.on("data", (data: Buffer) => {
      output += data.toString();
    });
    children.add(proc);
    proc.once("exit", () => children.delete(proc));
    child = proc;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`redis-server exited on start: ${output.trim()}`);
      }
      const reply = await sendCommand(port, ["PING"], 200).catch(() => "");
      if (reply.startsWith("+PONG")) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer: ${output.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const stopServer = async (how: "kill" | "shutdown" = "kill"): Promise<void> => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    if (how === "shutdown") {
      await sendCommand(port, ["SHUTDOWN", "NOSAVE"], 1000).catch(() => "");
      const late = setTimeout(() => proc.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(late);
    } else {
      proc.kill("SIGKILL");
      await exited;
    }
  };

  await spawnServer();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      const proc = child;
      return proc !== null && proc.exitCode === null && proc.signalCode === null;
    },
    start: () => (child === null ? spawnServer() : Promise.resolve()),
    stop: stopServer,
    pause: async (ms) => {
      const reply = await sendCommand(port, ["CLIENT", "PAUSE", String(ms), "ALL"], 1000);
      if (!reply.startsWith("+OK")) throw new Error(`CLIENT PAUSE failed: ${reply}`);
    },
    command: (...words) => sendCommand(port, words, 2000),
    close: async () => {
      await stopServer("kill");
      rmSync(dir, { recursive: true, force: true });
      directories.delete(dir);
    },
  };
}

/** A port nothing listens on now: the kernel's pick for a socket bound to port 0. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * One command over a fresh socket, without any client library: the helper must work
 * whichever client the code under test uses, and must not share its connection.
 */
function sendCommand(port: number, words: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${words[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("data", (data: Buffer) => {
      reply += data.toString("latin1");
      // Every reply this helper asks for is one line (+OK, +PONG, :n, -ERR) or a bulk
      // string whose end is its final CRLF.
      if (reply.endsWith("\r\n") && completeReply(reply)) {
        clearTimeout(timer);
        socket.end();
        resolve(reply);
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (reply !== "") resolve(reply);
      else reject(new Error("connection closed without a reply"));
    });
    const parts = words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`);
    socket.write(`*${words.length}\r\n${parts.join("")}`);
  });
}

function completeReply(reply: string): boolean {
  if (!reply.startsWith("$")) return true;
  const header = reply.indexOf("\r\n");
  const length = Number(reply.slice(1, header));
  return length < 0 || Buffer.byteLength(reply, "latin1") >= header + 2 + length + 2;
}

let tasksetWorks: boolean | undefined;
export function hasTaskset(): boolean {
  tasksetWorks ??= spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  return tasksetWorks;
}
