/**
 * The launcher's own behaviour, with small stand-in processes: failures name the process
 * and quote its output, a death stops the rest, stop() leaves nothing behind. The real
 * three-process stack is tests/examples/start.test.ts.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { dirname, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfigJson } from "../../core/config/index.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const startScript = resolve(root, "scripts/start.mjs");
const run = promisify(execFile);

// scripts/start.mjs is plain JavaScript with no declarations; these are the parts used here.
interface Spec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  url: string;
  readyUrl: string;
  timeoutMs: number;
}
interface Stack {
  ready: Promise<void>;
  done: Promise<number>;
  stop(how?: { force?: boolean }): Promise<void>;
  pids(): (number | undefined)[];
}
interface Ports {
  origin: number;
  shield: number;
  edge: number;
}
interface StartModule {
  SHIELD_NODES_VAR: string;
  runStack(specs: Spec[], options?: { out?: NodeJS.WritableStream; pollMs?: number }): Stack;
  stackPlan(
    ports: Ports,
    config: { path: string; json: string },
    demo?: { jpegOnly?: boolean },
  ): Spec[];
  parseFlags(argv: string[]): { help: boolean; jpegOnly?: boolean };
  stackConfig(originUrl: string): { path: string; json: string; cleanup(): void };
  banner(ports: Ports): string;
  StackError: new (...args: never[]) => Error & { processName?: string; stopped: boolean };
}

let start: StartModule;
beforeAll(async () => {
  // A computed specifier: TypeScript has no types for the .mjs file and would refuse a literal one.
  start = (await import(pathToFileURL(startScript).href)) as StartModule;
});

async function freePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((done) => {
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/** Whether a process still runs; a zombie (exited, not yet reaped by init) does not. */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  const stat = `/proc/${pid}/stat`;
  if (existsSync("/proc/self/stat")) {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(stat, "utf8"));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A collecting output stream, so that prefixed lines can be asserted on. */
function sink(): { out: PassThrough; text(): string } {
  const out = new PassThrough();
  let text = "";
  out.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { out, text: () => text };
}

/** A fake child: `node -e script`, ready when 127.0.0.1:port answers. */
function fake(name: string, port: number, script: string, timeoutMs = 5_000): Spec {
  return {
    name,
    command: process.execPath,
    args: ["-e", script],
    env: { PORT: String(port) },
    url: `http://127.0.0.1:${port}`,
    readyUrl: `http://127.0.0.1:${port}/health`,
    timeoutMs,
  };
}

const SERVE = `require("node:http").createServer((q, s) => s.end("ok"))
  .listen(Number(process.env.PORT), "127.0.0.1", () => console.log("serving"));`;
const CRASH = `console.log("loading config"); console.error("Error: boom, no such module"); process.exit(3);`;
const SILENT = `console.log("thinking"); setInterval(() => {}, 1000);`;
// Ready, then dies shortly after its first request (the health check).
const DIES_LATER = `require("node:http").createServer((q, s) => { s.end("ok"); setTimeout(() => process.exit(5), 200); })
  .listen(Number(process.env.PORT), "127.0.0.1");`;
// Starts a grandchild of its own, as tsx and wrangler do, and never stops it itself.
const WITH_GRANDCHILD = `const c = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  console.log("grandchild " + c.pid); ${SERVE}`;

describe("npm start runner (scripts/start.mjs runStack)", () => {
  it("names a process that dies during startup, quotes its output, and stops the others", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const { out, text } = sink();
    const stack = start.runStack([fake("good", a, SERVE), fake("broken", b, CRASH)], {
      out,
      pollMs: 50,
    });
    const err = await stack.ready.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(start.StackError);
    const e = err as InstanceType<StartModule["StackError"]>;
    expect(e.processName).toBe("broken");
    expect(e.message).toContain("broken exited before it was ready (exit code 3)");
    expect(e.message).toContain("| Error: boom, no such module");
    expect(e.message).toContain("| loading config");
    expect(await stack.done).toBe(1);
    for (const pid of stack.pids()) expect(alive(pid)).toBe(false);
    expect(await portFree(a)).toBe(true);
    // Every line is prefixed with the name of the process that printed it.
    expect(text()).toMatch(/^broken +│ Error: boom, no such module$/m);
  });

  it("gives up on a process that never becomes ready, saying what the health URL gave", async () => {
    const port = await freePort();
    const { out } = sink();
    const stack = start.runStack([fake("sleepy", port, SILENT, 600)], { out, pollMs: 50 });
    await expect(stack.ready).rejects.toThrow(
      /sleepy was not ready after 0\.6 s: http:\/\/127\.0\.0\.1:\d+\/health gave connection refused\. Its last output:\n {2}\| thinking/,
    );
    expect(await stack.done).toBe(1);
    expect(alive(stack.pids()[0])).toBe(false);
  });

  it("once running, stops everything and exits 1 when one process dies", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const { out, text } = sink();
    const stack = start.runStack([fake("steady", a, SERVE), fake("fragile", b, DIES_LATER)], {
      out,
      pollMs: 50,
    });
    await stack.ready;
    expect(await stack.done).toBe(1);
    expect(text()).toContain("fragile exited unexpectedly (exit code 5); stopping the others");
    for (const pid of stack.pids()) expect(alive(pid)).toBe(false);
    expect(await portFree(a)).toBe(true);
  });

  it("stop() ends every process it started, grandchildren included, and exits 0", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const { out, text } = sink();
    const stack = start.runStack([fake("parent", a, WITH_GRANDCHILD), fake("other", b, SERVE)], {
      out,
      pollMs: 50,
    });
    await stack.ready;
    const grandchild = Number(/grandchild (\d+)/.exec(text())?.[1]);
    expect(alive(grandchild)).toBe(true);
    await stack.stop();
    expect(await stack.done).toBe(0);
    for (const pid of [...stack.pids(), grandchild]) expect(alive(pid)).toBe(false);
  });

  it("runs the real demo origin from the stack plan", { timeout: 30_000 }, async () => {
    const ports = { origin: await freePort(), shield: await freePort(), edge: await freePort() };
    const config = start.stackConfig(`http://127.0.0.1:${ports.origin}`);
    try {
      // The shield and the edge read the same config, rewritten for this origin port.
      const parsed = parseConfigJson(readFileSync(config.path, "utf8"));
      expect(parsed.origins[0]?.url).toBe(`http://127.0.0.1:${ports.origin}`);
      expect(JSON.parse(config.json)).toEqual(JSON.parse(readFileSync(config.path, "utf8")));

      const plan = start.stackPlan(ports, config);
      expect(plan.map((s) => s.name)).toEqual(["origin", "shield", "edge"]);
      const [origin, shield, edge] = plan as [Spec, Spec, Spec];
      expect(shield.args).toEqual(expect.arrayContaining(["--config", config.path]));
      expect(edge.args).toContain(`${start.SHIELD_NODES_VAR}:http://127.0.0.1:${ports.shield}`);
      expect(edge.env).toEqual({ WRANGLER_SEND_METRICS: "false" });
      expect(edge.readyUrl).toBe(`http://127.0.0.1:${ports.edge}/__edge/health`);

      const { out, text } = sink();
      const stack = start.runStack([origin], { out });
      await stack.ready;
      const stats = await fetch(`${origin.url}/__origin/stats`);
      expect(stats.status).toBe(200);
      expect(text()).toMatch(/^origin +│ demo origin listening on http:\/\/127\.0\.0\.1:\d+/m);
      await stack.stop();
      expect(await stack.done).toBe(0);
      expect(await portFree(ports.origin)).toBe(true);
    } finally {
      config.cleanup();
    }
    expect(existsSync(config.path)).toBe(false);
  });

  it("prints curl lines for the page, the three image variants and the origin counters", () => {
    const text = start.banner({ origin: 9000, shield: 8080, edge: 8787 });
    expect(text).toContain("http://127.0.0.1:8787");
    expect(
      text.match(/curl [^\n]* http:\/\/127\.0\.0\.1:8787\/ \| grep -iE '\^\(cache-status\)/g),
    ).toHaveLength(2);
    for (const accept of ["'Accept: image/avif'", "'Accept: image/webp'", "'Accept:'"]) {
      expect(text).toContain(`-H ${accept} http://127.0.0.1:8787/images/hero.jpg`);
    }
    expect(text).toContain("curl -s http://127.0.0.1:9000/__origin/stats");
  });
});

describe("npm start command line", () => {
  it("--help explains every flag", async () => {
    const { stdout } = await run(process.execPath, [startScript, "--help"]);
    for (const flag of ["--origin-port", "--shield-port", "--edge-port", "--jpeg-only", "--help"]) {
      expect(stdout).toContain(flag);
    }
  });

  it("--jpeg-only runs the demo origin with its JPEG and PNG originals only", () => {
    expect(start.parseFlags(["--jpeg-only"])).toMatchObject({ help: false, jpegOnly: true });
    expect(start.parseFlags([])).toMatchObject({ help: false, jpegOnly: false });
    const ports = { origin: 9000, shield: 8080, edge: 8787 };
    const config = { path: "examples/shield.config.json", json: "{}" };
    expect(start.stackPlan(ports, config, { jpegOnly: true })[0]?.args).toContain("--jpeg-only");
    expect(start.stackPlan(ports, config)[0]?.args).not.toContain("--jpeg-only");
  });

  it("refuses bad flags with exit code 2", async () => {
    for (const args of [["--origin-port", "x"], ["--edge-port", "70000"], ["--what"]]) {
      const err = await run(process.execPath, [startScript, ...args]).catch((e: unknown) => e);
      expect((err as { code: number }).code, args.join(" ")).toBe(2);
    }
    const same = await run(process.execPath, [
      startScript,
      "--origin-port",
      "9100",
      "--shield-port",
      "9100",
    ]).catch((e: { stderr: string }) => e);
    expect((same as { stderr: string }).stderr).toContain("the three ports must differ");
  });

  it("a port in use fails at once, naming the process, before starting anything", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as { port: number }).port;
    const originPort = await freePort();
    try {
      const err = (await run(process.execPath, [
        startScript,
        "--origin-port",
        String(originPort),
        "--shield-port",
        String(port),
        "--edge-port",
        String(await freePort()),
      ]).catch((e: unknown) => e)) as { code: number; stderr: string; stdout: string };
      expect(err.code).toBe(1);
      expect(err.stderr).toContain(
        `shield: port ${port} on 127.0.0.1 is in use; stop what runs there or pass --shield-port`,
      );
      expect(err.stdout).not.toContain("demo-origin.ts");
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });
});
