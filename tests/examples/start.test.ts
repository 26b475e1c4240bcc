/**
 * `npm start` as a newcomer runs it: the demo origin, a shield and the Worker under
 * `wrangler dev`, on free ports. What the printed curl lines promise must hold: AVIF for
 * an AVIF client, WebP for a WebP-only one, the original otherwise, Cache-Status from
 * both tiers; and Ctrl-C stops every process it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigJson } from "../../core/config/index.ts";
import { describeWithRedis } from "../helpers/redis-server.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
let start: ChildProcess;
let out = "";
let edge = "";
let originStats = "";
let shieldHealth = "";

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

beforeAll(async () => {
  const [o, s, e] = [await freePort(), await freePort(), await freePort()];
  start = spawn(
    process.execPath,
    ["scripts/start.mjs", "--origin-port", `${o}`, "--shield-port", `${s}`, "--edge-port", `${e}`],
    { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  start.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  start.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + 90_000;
  while (!out.includes("stack is up")) {
    if (start.exitCode !== null || Date.now() > deadline) {
      throw new Error(`npm start did not come up:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  edge = `http://127.0.0.1:${e}`;
  originStats = `http://127.0.0.1:${o}/__origin/stats`;
  shieldHealth = `http://127.0.0.1:${s}/__shield/health`;
}, 120_000);

afterAll(async () => {
  if (start !== undefined && start.exitCode === null) start.kill("SIGKILL");
});

describe("npm start", () => {
  it("prints the URLs and curl lines for the three processes", () => {
    expect(out).toContain(`edge Worker    ${edge}`);
    expect(out).toMatch(/curl .* -H 'Accept: image\/avif' .*\/images\/hero\.jpg/);
    expect(out).toMatch(/curl .* -H 'Accept-Encoding: br' .*\/api\/catalog/);
    expect(out).toContain(originStats);
  });

  it("serves the page through both tiers, then from the edge", async () => {
    const first = await fetch(`${edge}/`);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toMatch(
      /^shield; fwd=uri-miss.*, edge; fwd=uri-miss/,
    );
    await first.text();
    const second = await fetch(`${edge}/`);
    expect(second.headers.get("cache-status")).toMatch(/edge; hit/);
    await second.text();
  });

  it("negotiates AVIF, WebP and the original, with Cache-Status from both tiers", async () => {
    const cases = [
      { accept: "image/avif", type: "image/avif", format: "heif" },
      { accept: "image/webp", type: "image/webp", format: "webp" },
      { accept: "", type: "image/jpeg", format: "jpeg" },
    ];
    for (const c of cases) {
      const res = await fetch(`${edge}/images/hero.jpg`, { headers: { accept: c.accept } });
      expect(res.headers.get("content-type")).toBe(c.type);
      expect(res.headers.get("cache-status")).toMatch(/^shield; .*, edge; /);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect(meta.format).toBe(c.format);
    }
  });

  it("transforms an image on demand: 480 px AVIF for a client that takes it", async () => {
    expect(out).toMatch(/curl .*\/img\/width=480,format=auto\/images\/hero\.jpg/);
    const url = `${edge}/img/width=480,format=auto/images/hero.jpg`;
    const res = await fetch(url, { headers: { accept: "image/avif,image/webp" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/avif");
    expect(res.headers.get("cache-status")).toMatch(/^shield; fwd=uri-miss.*, edge; /);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["heif", 480, 252]);
    // A WebP-only client gets WebP from the same URL, never the AVIF.
    const webp = await fetch(url, { headers: { accept: "image/webp" } });
    expect(webp.headers.get("content-type")).toBe("image/webp");
    expect((await sharp(Buffer.from(await webp.arrayBuffer())).metadata()).format).toBe("webp");
  });

  it("compresses the demo's uncompressed JSON: br, gzip or identity per client, from one origin fetch", async () => {
    const url = new URL(`${edge}/api/catalog`);
    /** The raw answer, as a client that sends exactly this Accept-Encoding receives it. */
    const raw = (acceptEncoding: string | null) =>
      new Promise<{ coding: string | undefined; vary: string; body: Buffer }>((done, fail) => {
        const headers: Record<string, string> = {};
        if (acceptEncoding !== null) headers["accept-encoding"] = acceptEncoding;
        const req = request(url, { headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            done({
              coding: res.headers["content-encoding"],
              vary: String(res.headers.vary ?? "").toLowerCase(),
              body: Buffer.concat(chunks),
            }),
          );
          res.on("error", fail);
        });
        req.on("error", fail);
        req.end();
      });
    const br = await raw("br");
    const gzip = await raw("gzip");
    const identity = await raw(null);
    expect([br.coding, gzip.coding, identity.coding]).toEqual(["br", "gzip", undefined]);
    const plain = identity.body;
    expect(JSON.parse(plain.toString("utf8"))).toBeTruthy();
    expect(brotliDecompressSync(br.body).equals(plain)).toBe(true);
    expect(gunzipSync(gzip.body).equals(plain)).toBe(true);
    // Compression is worth it on this body: each coding well under half the bytes.
    expect(br.body.length).toBeLessThan(plain.length / 2);
    expect(gzip.body.length).toBeLessThan(plain.length / 2);
    expect(br.vary).toContain("accept-encoding");
    const stats = (await (await fetch(originStats)).json()) as { paths: Record<string, number> };
    expect(stats.paths["/api/catalog"]).toBe(1);
  });

  it("stops every process it started on Ctrl-C (SIGINT) and exits 0", async () => {
    const exited = new Promise<number | null>((r) => start.once("exit", (code) => r(code)));
    start.kill("SIGINT");
    expect(await exited).toBe(0);
    // Nothing it started is left listening on any of the three ports.
    for (const url of [`${edge}/__edge/health`, shieldHealth, originStats]) {
      expect(await fetch(url).catch(() => null), url).toBeNull();
    }
  }, 20_000);
});

// ---------------------------------------------------------------------------------------
// `npm start -- --cluster`: a private redis-server, three shields sharing it (each with a
// disk tier of its own), the demo origin and the Worker spreading misses over the three.

interface StackPorts {
  origin: number;
  shield: number;
  edge: number;
}
/** What clusterPlan returns for one process (the fields these tests read). */
interface PlannedProcess {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  url: string;
  readyUrl: string;
}
interface ClusterFolders {
  shields: { name: string; path: string; diskDir: string }[];
  redisDir: string;
  purgeToken: string;
  cleanup(): void;
}
type ParsedFlags =
  | { help: true }
  | { help: false; ports: StackPorts; cluster: boolean; redisPort: number | null };
/** scripts/start.mjs is plain JavaScript with no declarations; these are the parts used here. */
interface StartScript {
  CLUSTER_SIZE: number;
  REDIS_BINARY: string;
  parseFlags(argv: string[]): ParsedFlags;
  clusterPorts(first: number): number[];
  stackConfig(originUrl: string): { path: string; json: string; cleanup(): void };
  clusterFiles(config: { json: string }, redisUrl: string, purgeToken?: string): ClusterFolders;
  clusterPlan(
    ports: StackPorts,
    config: { path: string; json: string },
    files: ClusterFolders,
    redis: { binary: string; port: number },
  ): PlannedProcess[];
  clusterBanner(ports: StackPorts, redisPort: number, files: ClusterFolders): string;
  findOnPath(name: string, path?: string): string | null;
}

const START_SCRIPT = resolve(ROOT, "scripts/start.mjs");
// A computed specifier: TypeScript has no types for the .mjs file and would refuse a literal one.
const startScript = (await import(pathToFileURL(START_SCRIPT).href)) as StartScript;

/** Runs `node scripts/start.mjs ...args` to its end (only for runs that end by themselves). */
function runStartScript(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [START_SCRIPT, ...args], {
      cwd: ROOT,
      env: { ...env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", fail);
    child.once("close", (code) => done({ code, stdout, stderr }));
  });
}

/** Whether nothing listens on 127.0.0.1:port (binding it succeeds). */
function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((done) => {
    probe.once("error", () => done(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => done(true)));
  });
}

/** The first of `count` consecutive free ports. */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    const range = Array.from({ length: count }, (_, offset) => first + offset);
    if (first + count - 1 > 65535) continue;
    if ((await Promise.all(range.map(portIsFree))).every(Boolean)) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/**
 * GET with a Host header of its own, as the edge sends it to every shield (Node 20's fetch
 * drops a Host header; the shields key their caches on it).
 */
function getWithHost(
  url: string,
  host = "127.0.0.1",
): Promise<{ status: number; cacheStatus: string; body: string }> {
  return new Promise((done, fail) => {
    const outgoing = request(url, { headers: { host }, agent: false }, (incoming) => {
      let body = "";
      incoming.setEncoding("utf8");
      incoming.on("data", (chunk: string) => {
        body += chunk;
      });
      incoming.once("error", fail);
      incoming.once("end", () =>
        done({
          status: incoming.statusCode ?? 0,
          cacheStatus: String(incoming.headers["cache-status"] ?? ""),
          body,
        }),
      );
    });
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error(`no answer from ${url}`)));
    outgoing.once("error", fail);
    outgoing.end();
  });
}

describe("npm start -- --cluster: flags", () => {
  it("takes --cluster and --redis-port; the shields take consecutive ports from --shield-port", () => {
    expect(startScript.CLUSTER_SIZE).toBe(3);
    expect(startScript.parseFlags(["--cluster"])).toMatchObject({
      help: false,
      ports: { origin: 9000, shield: 8080, edge: 8787 },
      cluster: true,
      redisPort: null,
    });
    const flags = startScript.parseFlags([
      "--cluster",
      "--shield-port",
      "9180",
      "--redis-port",
      "6400",
    ]);
    expect(flags).toMatchObject({ cluster: true, redisPort: 6400, ports: { shield: 9180 } });
    expect(startScript.clusterPorts(9180)).toEqual([9180, 9181, 9182]);
    // Without --cluster nothing changed: one shield, no Redis.
    expect(startScript.parseFlags([])).toMatchObject({ cluster: false, redisPort: null });
    // A shield port next to the edge's is fine for one shield, not for three.
    expect(startScript.parseFlags(["--shield-port", "8786"])).toMatchObject({ cluster: false });
  });

  it("refuses --redis-port without --cluster, bad ports, and shield ranges that collide or pass 65535", () => {
    const refusals: [string[], RegExp][] = [
      [["--redis-port", "6400"], /--redis-port needs --cluster/],
      [["--cluster", "--redis-port", "0"], /--redis-port must be an integer from 1 to 65535/],
      [["--cluster", "--redis-port", "70000"], /--redis-port must be an integer/],
      [["--cluster", "--redis-port", "63.5"], /--redis-port must be an integer/],
      [["--cluster", "--redis-port", "redis"], /--redis-port must be an integer/],
      // Shields on 8786-8788 would take the edge's 8787.
      [["--cluster", "--shield-port", "8786"], /the ports must differ.*shields 8786-8788/],
      [["--cluster", "--shield-port", "8998"], /the ports must differ.*origin 9000/],
      [["--cluster", "--redis-port", "8081"], /the ports must differ.*redis 8081/],
      [["--cluster", "--redis-port", "8787"], /the ports must differ/],
      [["--cluster", "--shield-port", "65534"], /room for 3 shields.*at most 65533.*65534/],
    ];
    for (const [args, message] of refusals) {
      expect(() => startScript.parseFlags(args), args.join(" ")).toThrow(message);
    }
    // The very top of the range is fine when the three shields still fit.
    expect(startScript.parseFlags(["--cluster", "--shield-port", "65533"])).toMatchObject({
      cluster: true,
      ports: { shield: 65533 },
    });
  });

  it("exits with code 2 and the usage for each refusal, before starting anything", async () => {
    const runs = await Promise.all(
      [
        ["--redis-port", "6400"],
        ["--cluster", "--shield-port", "8786"],
        ["--cluster", "--shield-port", "65535"],
      ].map((args) => runStartScript(args)),
    );
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/^npm start: /);
      expect(run.stderr).toContain("Usage: npm start --");
      expect(run.stdout).toBe("");
    }
  });

  it("--help describes the cluster mode and where redis-server comes from", async () => {
    const help = await runStartScript(["--help"]);
    expect(help.code).toBe(0);
    for (const text of [
      "--cluster",
      "--redis-port",
      "3 shields sharing a private Redis",
      "SHIELD_NODES lists the 3 shields",
      "apt-get install redis-server",
    ]) {
      expect(help.stdout).toContain(text);
    }
  });

  it("without redis-server on PATH, --cluster exits 1 naming the package and starts nothing", async () => {
    expect(startScript.REDIS_BINARY).toBe("redis-server");
    expect(startScript.findOnPath("redis-server", "")).toBeNull();
    // A PATH that has node but no redis-server.
    const bin = mkdtempSync(join(tmpdir(), "start-test-path-"));
    try {
      symlinkSync(process.execPath, join(bin, "node"));
      expect(startScript.findOnPath("node", bin)).toBe(join(bin, "node"));
      expect(startScript.findOnPath("redis-server", bin)).toBeNull();
      // Free ports, so that a regression shows up as this test failing, not as a clash.
      const firstShield = await freePortRange(3);
      const run = await runStartScript(
        [
          "--cluster",
          "--origin-port",
          `${await freePort()}`,
          "--shield-port",
          `${firstShield}`,
          "--edge-port",
          `${await freePort()}`,
        ],
        { ...process.env, PATH: bin },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("--cluster needs redis-server, which is not on PATH");
      expect(run.stderr).toContain("apt-get install redis-server");
      // Nothing was built or started: not one command line printed.
      expect(run.stdout).toBe("");
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

describe("npm start -- --cluster: plan and configs", () => {
  const ports = { origin: 9100, shield: 9180, edge: 9787 };
  const redisUrl = "redis://127.0.0.1:6400";
  const token = "a-purge-token-for-the-plan-test";

  it("plans Redis, the origin, three shields on consecutive ports, and the edge over all three", () => {
    const config = startScript.stackConfig(`http://127.0.0.1:${ports.origin}`);
    const files = startScript.clusterFiles(config, redisUrl, token);
    try {
      const plan = startScript.clusterPlan(ports, config, files, {
        binary: "/usr/bin/redis-server",
        port: 6400,
      });
      expect(plan.map((planned) => planned.name)).toEqual([
        "redis",
        "origin",
        "shield-1",
        "shield-2",
        "shield-3",
        "edge",
      ]);
      const [redis, origin, ...rest] = plan as [
        PlannedProcess,
        PlannedProcess,
        ...PlannedProcess[],
      ];
      expect(redis.command).toBe("/usr/bin/redis-server");
      expect(redis.url).toBe(redisUrl);
      expect(redis.args.join(" ")).toContain("--port 6400 --bind 127.0.0.1");
      expect(redis.args).toEqual(expect.arrayContaining(["--dir", files.redisDir]));
      expect(origin.url).toBe(`http://127.0.0.1:${ports.origin}`);

      const shields = rest.slice(0, 3);
      const shieldUrls = [
        "http://127.0.0.1:9180",
        "http://127.0.0.1:9181",
        "http://127.0.0.1:9182",
      ];
      for (const [index, shield] of shields.entries()) {
        expect(shield.url).toBe(shieldUrls[index]);
        expect(shield.readyUrl).toBe(`${shieldUrls[index]}/__shield/health`);
        expect(shield.args.join(" ")).toContain(`--config ${files.shields[index]?.path}`);
        // A SHIELD_REDIS_URL of the user's own cannot point the demo at another Redis.
        expect(shield.env?.SHIELD_REDIS_URL).toBe(redisUrl);
      }
      const edgeWorker = rest[3];
      expect(edgeWorker?.url).toBe(`http://127.0.0.1:${ports.edge}`);
      expect(edgeWorker?.args).toContain(`SHIELD_NODES:${shieldUrls.join(",")}`);
    } finally {
      files.cleanup();
      config.cleanup();
    }
  });

  it("gives each shield a config of its own: its name, the shared Redis, its disk folder, the token", () => {
    const config = startScript.stackConfig(`http://127.0.0.1:${ports.origin}`);
    const files = startScript.clusterFiles(config, redisUrl, token);
    try {
      expect(files.purgeToken).toBe(token);
      expect(files.shields.map((shield) => shield.name)).toEqual([
        "shield-1",
        "shield-2",
        "shield-3",
      ]);
      const diskDirs = new Set<string>();
      for (const [index, shield] of files.shields.entries()) {
        // The shield's own schema accepts it, as the running shield will.
        const parsed = parseConfigJson(readFileSync(shield.path, "utf8"));
        expect(parsed.shield.name).toBe(`shield-${index + 1}`);
        expect(parsed.shield.redis?.url).toBe(redisUrl);
        expect(parsed.shield.disk?.dir).toBe(shield.diskDir);
        expect(parsed.shield.purgeToken).toBe(token);
        expect(parsed.origins[0]?.url).toBe(`http://127.0.0.1:${ports.origin}`);
        expect(existsSync(shield.diskDir)).toBe(true);
        diskDirs.add(shield.diskDir);
      }
      expect(diskDirs.size).toBe(3);
    } finally {
      files.cleanup();
      config.cleanup();
    }
    for (const shield of files.shields) expect(existsSync(shield.path)).toBe(false);
    expect(existsSync(files.redisDir)).toBe(false);
  });

  it("makes up a random purge token when SHIELD_PURGE_TOKEN is not set", () => {
    const config = startScript.stackConfig("http://127.0.0.1:9000");
    const first = startScript.clusterFiles(config, redisUrl);
    const second = startScript.clusterFiles(config, redisUrl, "");
    try {
      expect(first.purgeToken).toMatch(/^[0-9a-f]{32}$/);
      expect(second.purgeToken).toMatch(/^[0-9a-f]{32}$/);
      expect(second.purgeToken).not.toBe(first.purgeToken);
    } finally {
      first.cleanup();
      second.cleanup();
      config.cleanup();
    }
  });

  it("the banner names every URL and has curl lines for a Redis hit and a purge with the token", () => {
    const config = startScript.stackConfig("http://127.0.0.1:9000");
    const files = startScript.clusterFiles(config, redisUrl, token);
    try {
      const text = startScript.clusterBanner(ports, 6400, files);
      expect(text).toContain("http://127.0.0.1:9787");
      for (const port of [9180, 9181, 9182]) {
        expect(text).toContain(`http://127.0.0.1:${port}/__shield/health`);
      }
      expect(text).toContain("redis://127.0.0.1:6400");
      expect(text).toContain("http://127.0.0.1:9100/__origin/stats");
      for (const port of [9180, 9181]) {
        expect(text).toMatch(
          new RegExp(
            `curl .* -H 'Host: 127\\.0\\.0\\.1' http://127\\.0\\.0\\.1:${port}/api/tagged`,
          ),
        );
      }
      expect(text).toContain(
        `curl -s -X POST -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"tags":["demo"]}' http://127.0.0.1:9182/__shield/purge`,
      );
    } finally {
      files.cleanup();
      config.cleanup();
    }
  });
});

describeWithRedis("npm start -- --cluster (a real run on free ports)", () => {
  let cluster: ChildProcess | undefined;
  let clusterOut = "";
  let clusterExit: Promise<number | null> = Promise.resolve(null);
  const urls = { edge: "", origin: "", shields: [] as string[] };
  let clusterPortList: number[] = [];

  beforeAll(async () => {
    const firstShield = await freePortRange(3);
    const taken = [firstShield, firstShield + 1, firstShield + 2];
    const pick = async (): Promise<number> => {
      for (;;) {
        const port = await freePort();
        if (!taken.includes(port)) {
          taken.push(port);
          return port;
        }
      }
    };
    const [originPort, edgePort] = [await pick(), await pick()];
    urls.edge = `http://127.0.0.1:${edgePort}`;
    urls.origin = `http://127.0.0.1:${originPort}`;
    urls.shields = [0, 1, 2].map((offset) => `http://127.0.0.1:${firstShield + offset}`);
    // The purge token is the one the banner prints, made up for this run.
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
    delete env.SHIELD_PURGE_TOKEN;
    const child = spawn(
      process.execPath,
      [
        START_SCRIPT,
        "--cluster",
        "--origin-port",
        `${originPort}`,
        "--shield-port",
        `${firstShield}`,
        "--edge-port",
        `${edgePort}`,
      ],
      { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    cluster = child;
    clusterExit = new Promise((done) => child.once("exit", (code) => done(code)));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("data", (chunk: Buffer) => {
        clusterOut += chunk.toString();
      });
    }
    const deadline = Date.now() + 90_000;
    while (!clusterOut.includes("cluster is up")) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`npm start -- --cluster did not come up:\n${clusterOut.slice(-3000)}`);
      }
      await sleep(200);
    }
    // Redis took a free port of its own (no --redis-port): the banner says which.
    const redisPort = Number(/Redis +redis:\/\/127\.0\.0\.1:(\d+) /.exec(clusterOut)?.[1]);
    clusterPortList = [...taken, redisPort];
  }, 120_000);

  afterAll(async () => {
    // A failed test must not leave Redis, shields or workerd behind: Ctrl-C first, so that
    // the script stops what it started, and SIGKILL only when that does not end it.
    if (cluster === undefined || cluster.exitCode !== null || cluster.signalCode !== null) return;
    cluster.kill("SIGINT");
    const ended = await Promise.race([clusterExit.then(() => true), sleep(15_000, false)]);
    if (!ended) cluster.kill("SIGKILL");
  }, 20_000);

  it("prints every URL and the curl lines with the purge token", () => {
    expect(clusterOut).toContain(`edge Worker    ${urls.edge}`);
    for (const [index, url] of urls.shields.entries()) {
      expect(clusterOut).toContain(
        `shield-${index + 1}       ${url}   health: ${url}/__shield/health`,
      );
    }
    expect(clusterOut).toMatch(/Redis +redis:\/\/127\.0\.0\.1:\d+ +shared by the shields/);
    expect(clusterOut).toContain(`${urls.origin}/__origin/stats`);
    expect(clusterOut).toMatch(/-H 'Authorization: Bearer [0-9a-f]{32}' .*\/__shield\/purge/);
  });

  it("answers through the edge with a shield's Cache-Status member before the edge's", async () => {
    const response = await fetch(`${urls.edge}/`);
    expect(response.status).toBe(200);
    await response.text();
    expect(response.headers.get("cache-status")).toMatch(
      /^shield-[1-3]; fwd=uri-miss.*, edge; fwd=uri-miss/,
    );
  });

  it("has the Redis and disk tiers up on each of the three shields", async () => {
    for (const [index, url] of urls.shields.entries()) {
      const response = await fetch(`${url}/__shield/health`);
      expect(response.status).toBe(200);
      const health = (await response.json()) as {
        name: string;
        tiers: { redis?: { state: string }; disk?: { state: string } };
      };
      expect(health.name).toBe(`shield-${index + 1}`);
      expect(health.tiers.redis?.state, url).toBe("up");
      expect(health.tiers.disk?.state, url).toBe("up");
    }
  });

  it("what one shield fetched, the other two find in Redis: the origin is asked once", async () => {
    const [first, second, third] = urls.shields as [string, string, string];
    const fetched = await getWithHost(`${first}/api/tagged`);
    expect(fetched.status).toBe(200);
    expect(fetched.cacheStatus).toMatch(/^shield-1; fwd=uri-miss/);
    for (const [name, url] of [
      ["shield-2", second],
      ["shield-3", third],
    ] as const) {
      const shared = await getWithHost(`${url}/api/tagged`);
      expect(shared.status).toBe(200);
      expect(shared.body).toBe(fetched.body);
      // A Redis hit, or (should the fetch still be under way) collapsed onto shield-1's.
      expect(shared.cacheStatus).toMatch(
        new RegExp(`^${name}; (hit;.*detail=redis|.*collapsed.*detail=cluster)`),
      );
    }
    const stats = (await (await fetch(`${urls.origin}/__origin/stats`)).json()) as {
      paths: Record<string, number>;
    };
    expect(stats.paths["/api/tagged"]).toBe(1);
  });

  it("a purge by tag on the third shield reaches the other two", async () => {
    const token = /Authorization: Bearer ([0-9a-f]+)/.exec(clusterOut)?.[1];
    expect(token).toBeDefined();
    const [, second, third] = urls.shields as [string, string, string];
    const before = await getWithHost(`${second}/api/tagged`);
    expect(before.cacheStatus).toMatch(/^shield-2; hit/);

    const response = await fetch(`${third}/__shield/purge`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ tags: ["demo"] }),
    });
    expect(response.status).toBe(200);
    const { purged } = (await response.json()) as { purged: { nodes: unknown } };
    expect(purged.nodes).toBe(2);

    // The other shields apply the message a moment after the purge's answer.
    const deadline = Date.now() + 1_000;
    let after = await getWithHost(`${second}/api/tagged`);
    while (/^shield-2; hit/.test(after.cacheStatus) && Date.now() < deadline) {
      await sleep(50);
      after = await getWithHost(`${second}/api/tagged`);
    }
    expect(after.cacheStatus).toMatch(/^shield-2; fwd=uri-miss/);
    const stats = (await (await fetch(`${urls.origin}/__origin/stats`)).json()) as {
      paths: Record<string, number>;
    };
    expect(stats.paths["/api/tagged"]).toBe(2);
  });

  it("Ctrl-C (SIGINT) stops everything, Redis included, removes its folders and exits 0", async () => {
    const tempRoot = /a disk tier \((\S+)\/shield-N\/disk\)/.exec(clusterOut)?.[1];
    expect(tempRoot).toBeDefined();
    expect(existsSync(tempRoot ?? "")).toBe(true);
    // Edge, origin, the three shields and Redis (on the port the banner names) all listen.
    for (const port of clusterPortList) expect(await portIsFree(port), `port ${port}`).toBe(false);
    cluster?.kill("SIGINT");
    expect(await clusterExit).toBe(0);
    // Nothing it started still listens.
    for (const port of clusterPortList) expect(await portIsFree(port), `port ${port}`).toBe(true);
    expect(existsSync(tempRoot ?? "")).toBe(false);
  }, 20_000);
});
