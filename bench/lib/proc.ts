/**
 * Child processes for the shield benchmarks: a server under test runs in its own process
 * (so the load generator in the parent does not share its event loop), prints
 * `READY <port>` when listening, and exits when its stdin closes — so it dies with the
 * parent even if the parent is killed. Also: CPU time and RSS of a pid from /proc.
 */
import { type ChildProcessByStdio, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { buildNode } from "../../scripts/build-node.mjs";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Child {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  /** Close stdin (the child closes its server and exits); SIGKILL after 3 s. */
  stop(): Promise<void>;
}

type Proc = ChildProcessByStdio<Writable, Readable, null>;
const running = new Set<Proc>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const c of running) c.kill("SIGKILL");
    process.exit(130);
  });
}

/**
 * Start `bench/lib/<script>` under Node, built into dist/ the way `npm run shield` builds
 * the shield (scripts/build-node.mjs: no tsx loader at run time, whose keepNames
 * wrappers and memory would be measured too); resolves once it listens. With `cpu`, the
 * process runs pinned to that core (taskset -c).
 */
export async function startChild(
  script: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
  options: { readonly cpu?: number | undefined } = {},
): Promise<Child> {
  const source = fileURLToPath(new URL(script, import.meta.url));
  const file = await buildNode(source, `dist/bench/${script.replace(/\.ts$/, ".mjs")}`);
  const argv = [process.execPath, ...nodeFlags, file, ...args];
  // taskset execs the command, so the pid is Node's; every thread Node starts inherits
  // the affinity (libuv's pool, V8's GC and compiler threads): the server has one core.
  const [cmd, ...rest] =
    options.cpu === undefined ? argv : ["taskset", "-c", String(options.cpu), ...argv];
  const child: Proc = spawn(cmd as string, rest, {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  running.add(child);
  let stopping = false;
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${script} not ready within 30 s`)), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const why = `${script} exited (${code ?? signal})`;
      reject(new Error(`${why} before it was ready`));
      if (!stopping) {
        // A server that dies mid-run invalidates every figure: fail loudly.
        process.stderr.write(`\nFAIL: ${why} during the benchmark\n`);
        process.exit(1);
      }
    });
  });
  child.stdout.resume();
  return {
    pid: child.pid as number,
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 3_000);
        child.once("exit", () => {
          clearTimeout(kill);
          running.delete(child);
          resolve();
        });
        child.stdin.end();
      }),
  };
}

/**
 * For the child: exit when the parent closes our stdin (or dies), and in any case after
 * `maxMs`, so no benchmark process outlives its run.
 */
export function exitWithParent(close: () => void, maxMs = 180_000): void {
  process.stdin.on("end", () => {
    close();
    process.exit(0);
  });
  process.stdin.resume();
  setTimeout(() => process.exit(3), maxMs).unref();
}

/** User + system CPU time of a process so far, ms (USER_HZ is 100 on Linux). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident set size (VmRSS) and its peak (VmHWM) of a process, bytes. */
export function rss(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (m === null) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** Pin a running process, every thread of it, to `cpus` (taskset -a -p); false if it cannot. */
export function pinProcess(pid: number, cpus: string): boolean {
  const r = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { encoding: "utf8" });
  return r.status === 0;
}

/** The CPUs a process may run on (as `taskset -p -c` lists them), or null. */
export function affinity(pid: number): string | null {
  const r = spawnSync("taskset", ["-p", "-c", String(pid)], { encoding: "utf8" });
  return r.status === 0 ? (r.stdout.split(":").pop()?.trim() ?? null) : null;
}
