/**
 * `npm run shield`: the real entry point (origin-shield/main.ts under tsx) as a child
 * process: flags, config errors, start-up, and a graceful SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { parseCli } from "../../origin-shield/cli.ts";
import { startOrigin } from "../helpers/origin.ts";

const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const MAIN = join(process.cwd(), "origin-shield/main.ts");
const dir = mkdtempSync(join(tmpdir(), "shield-cli-"));
const children = new Set<ChildProcess>();

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exit: Promise<number | null>;
}

function run(args: readonly string[], env: Record<string, string> = {}): Run {
  const child = spawn(TSX, [MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const r: Run = {
    child,
    stdout: "",
    stderr: "",
    exit: new Promise((resolve) => {
      child.on("exit", (code) => {
        children.delete(child);
        resolve(code);
      });
    }),
  };
  child.stdout?.on("data", (c: Buffer) => {
    r.stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    r.stderr += c.toString();
  });
  return r;
}

function configFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

/** Resolves with the base URL once the shield prints that it listens. */
async function listening(r: Run): Promise<string> {
  // Generous: under a full parallel test run on two cores, tsx start-up alone can take
  // several seconds.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(r.stdout);
    if (m !== null) return m[1] as string;
    if (r.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the shield did not start:\n${r.stdout}\n${r.stderr}`);
}

const FLAGS = ["--origin", "--config", "--port", "--host", "--log-level", "--help"];

/** Whether a new TCP connection to the server is accepted. */
function accepts(base: string): Promise<boolean> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

// Each spawn costs about a second of tsx start-up, so the process is started for one
// case of each kind; the other cases go through parseCli, the function main.ts calls.
describe.concurrent("the process (origin-shield/main.ts under tsx)", { timeout: 45_000 }, () => {
  it("--help exits 0 and names every flag", async () => {
    const r = run(["--help"]);
    expect(await r.exit).toBe(0);
    for (const flag of FLAGS) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain("SHIELD_PURGE_TOKEN");
  });

  it("a bad --port exits non-zero naming --port", async () => {
    const r = run(["--origin", "http://127.0.0.1:9", "--port", "abc"]);
    expect(await r.exit).not.toBe(0);
    expect(r.stderr).toContain("--port");
    expect(r.stdout).not.toContain("listening");
  });

  it("a config file with a bad field exits non-zero naming the field", async () => {
    const file = configFile("bad-field.json", { shield: { memory: { maxBytes: -5 } } });
    const r = run(["--origin", "http://127.0.0.1:9", "--config", file]);
    expect(await r.exit).not.toBe(0);
    expect(r.stderr).toContain("shield.memory.maxBytes");
    expect(r.stdout).not.toContain("listening");
  });

  it("prints its URL, serves requests, and on SIGTERM finishes an in-flight request and exits 0", async () => {
    const body = "slow ".repeat(2000);
    const origin = await startOrigin(async (req, res) => {
      if (req.url === "/slow") await new Promise((r) => setTimeout(r, 1_000));
      res.writeHead(200, { "cache-control": "max-age=60", "content-type": "text/plain" });
      res.end(req.url === "/slow" ? body : "fast");
    });
    onTestFinished(() => origin.close());
    const config = configFile("ok.json", {
      shield: { name: "cli-shield", purgeToken: "0123456789abcdef0123" },
    });
    const r = run([
      "--origin",
      origin.url,
      "--port",
      "0",
      "--config",
      config,
      "--log-level",
      "silent",
    ]);
    const base = await listening(r);
    expect(r.stdout).toContain('shield "cli-shield" listening on http://127.0.0.1:');

    const fast = await fetch(`${base}/fast`);
    expect(await fast.text()).toBe("fast");
    expect(fast.headers.get("cache-status")).toBe(
      "cli-shield; fwd=uri-miss; fwd-status=200; stored",
    );
    expect((await fetch(`${base}/__shield/health`)).status).toBe(200);

    let slowDone = false;
    const slow = fetch(`${base}/slow`).then(async (res) => {
      const result = { status: res.status, text: await res.text() };
      slowDone = true;
      return result;
    });
    while (origin.count() < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    const stoppedAt = Date.now();
    r.child.kill("SIGTERM");

    // It stops accepting new connections while the slow request is still running…
    while (await accepts(base)) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(slowDone).toBe(false);
    // …which then completes in full, and the process exits 0.
    expect(await slow).toEqual({ status: 200, text: body });
    expect(await r.exit).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  }, 15_000);
});

describe("parseCli (what main.ts runs first)", () => {
  it.each([
    { args: ["--origin", "http://127.0.0.1:9", "--port", "70000"], names: "--port" },
    { args: ["--origin", "http://127.0.0.1:9", "--port", "-1"], names: "--port" },
    { args: ["--origin", "http://127.0.0.1:9", "--host", ""], names: "--host" },
    { args: ["--origin", "http://127.0.0.1:9", "--log-level", "loud"], names: "--log-level" },
    { args: ["--origin", "ftp://example.com"], names: "--origin" },
    { args: ["--port", "8080"], names: "--origin" },
    { args: ["--origin", "http://127.0.0.1:9", "--prot", "1"], names: "--prot" },
    {
      args: ["--origin", "http://127.0.0.1:9", "--config", "/nonexistent.json"],
      names: "--config",
    },
  ])("$args is refused naming $names", ({ args, names }) => {
    expect(() => parseCli(args, {})).toThrow(names);
  });

  it.each([
    { config: { cache: { honorRequestNoCach: true } }, names: "cache.honorRequestNoCach" },
    { config: { rules: [{ ttl: { floor: 60, cap: 10 } }] }, names: "rules[0].ttl.floor" },
    { config: { shield: { purgeToken: "short" } }, names: "shield.purgeToken" },
  ])("a config file with a bad field is refused naming $names", ({ config, names }) => {
    const file = configFile(`${names}.json`, config);
    expect(() => parseCli(["--origin", "http://127.0.0.1:9", "--config", file], {})).toThrow(names);
  });

  it("a config file that is not JSON is refused naming --config", () => {
    const file = configFile("not-json.json", "{ nope");
    expect(() => parseCli(["--origin", "http://127.0.0.1:9", "--config", file], {})).toThrow(
      "--config",
    );
  });

  it("defaults to 127.0.0.1:8080 and the memory tier; SHIELD_PURGE_TOKEN sets the purge token", () => {
    const o = parseCli(["--origin", "http://127.0.0.1:9"], {
      SHIELD_PURGE_TOKEN: "from-the-environment-1",
    });
    expect(o).not.toBe("help");
    if (o === "help") return;
    expect([o.host, o.port, o.logLevel]).toEqual(["127.0.0.1", 8080, "info"]);
    expect(o.config.shield.purgeToken).toBe("from-the-environment-1");
    expect(o.config.origins).toMatchObject([{ url: "http://127.0.0.1:9", hosts: ["*"] }]);
  });
});
