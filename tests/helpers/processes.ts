/**
 * Real processes for end-to-end tests (a shield bundle, `wrangler dev`): started from the
 * repository root with their output kept, so that a process that does not come up is
 * reported with what it printed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const HOST = "127.0.0.1";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface ProcessGroup {
  /** The last lines every process printed, each prefixed with its name. */
  readonly output: string[];
  launch(name: string, command: string, args: string[], env?: Record<string, string>): ChildProcess;
  /** Resolves once `url` answers 2xx; throws with the group's output otherwise. */
  ready(url: string, child: ChildProcess, name: string, ms: number): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(child: ChildProcess | undefined): Promise<void>;
  /** The Worker under `wrangler dev`, resolved once it answers its health URL. */
  startEdge(options: EdgeOptions): Promise<{ readonly child: ChildProcess; readonly url: string }>;
}

export interface EdgeOptions {
  readonly port: number;
  /** Where wrangler keeps the local Cache API's state (a fresh folder: a cold cache). */
  readonly state: string;
  /** The shield nodes' base URLs, comma-separated (SHIELD_NODES). */
  readonly nodes: string;
  /** The CDN config (CDN_CONFIG). */
  readonly config: unknown;
  /** Further variables, e.g. EDGE_SHIELD_SECRET. */
  readonly vars?: Readonly<Record<string, string>>;
}

export function processGroup(): ProcessGroup {
  const output: string[] = [];
  const group: ProcessGroup = {
    output,
    launch(name, command, args, env = {}) {
      const child = spawn(command, args, {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const keep = (data: Buffer) => {
        output.push(
          ...data
            .toString()
            .split("\n")
            .map((line) => `[${name}] ${line}`),
        );
        if (output.length > 200) output.splice(0, output.length - 200);
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      return child;
    },
    async ready(url, child, name, ms) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) break;
        try {
          const res = await fetch(url);
          if (res.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`${name} did not become ready at ${url}:\n${output.slice(-40).join("\n")}`);
    },
    async stop(child) {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
    async startEdge({ port, state, nodes, config, vars = {} }) {
      const args = [
        "dev",
        "--ip",
        HOST,
        "--port",
        String(port),
        // Not wrangler's default 9229: two stacks starting at once would both take it.
        "--inspector-port",
        String(await freePort()),
        "--persist-to",
        state,
        "--var",
        `SHIELD_NODES:${nodes}`,
        "--var",
        `CDN_CONFIG:${JSON.stringify(config)}`,
      ];
      for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
      const child = group.launch("edge", join(ROOT, "node_modules", ".bin", "wrangler"), args);
      const url = `http://${HOST}:${port}`;
      // The first `wrangler dev` on a machine bundles the Worker and starts workerd.
      await group.ready(`${url}/__edge/health`, child, "wrangler dev", 60_000);
      return { child, url };
    },
  };
  return group;
}
