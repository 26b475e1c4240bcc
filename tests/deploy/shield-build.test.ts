/**
 * The shield's production build, run the way deploy/Dockerfile runs it, in two fresh
 * directories standing for its two stages:
 *
 *   build    the files the Dockerfile's build context admits (Dockerfile.dockerignore),
 *            then `sh scripts/build-shield.sh build`;
 *   runtime  what the runtime stage copies (package files, the build script, the health
 *            check), `sh scripts/build-shield.sh runtime` (npm ci --omit=dev, from the npm
 *            cache when it can), the bundle from the build stage, then `… check`;
 *
 * and then `node dist/origin-shield/main.mjs` serves a loopback origin through itself,
 * answers the image's HEALTHCHECK and drains on SIGTERM. The steps are read from the
 * Dockerfile, so the two cannot drift apart. One step is not repeated: the build stage's
 * `deps` (npm ci) is the install this suite already runs in (CI runs `npm ci` before
 * `npm test`), so the build stage borrows the checkout's node_modules rather than
 * installing half a gigabyte again.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { freePort, HOST, ROOT } from "../helpers/processes.ts";

const run = promisify(execFile);
const dockerfile = readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8");
const work = mkdtempSync(join(tmpdir(), "shield-build-"));
const buildDir = join(work, "build");
const runtimeDir = join(work, "runtime");

interface Stage {
  readonly name: string;
  readonly lines: string[];
}

/** The Dockerfile's stages, each with its instructions (continuation lines joined). */
function stages(text: string): Stage[] {
  const joined = text.replace(/\\\n\s*/g, " ");
  const out: Stage[] = [];
  for (const line of joined.split("\n").map((raw) => raw.trim())) {
    if (line === "" || line.startsWith("#")) continue;
    const from = /^FROM \S+ AS (\S+)$/i.exec(line);
    if (from !== null) out.push({ name: from[1]!, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** The scripts/build-shield.sh steps a stage's RUN instructions take, in order. */
function steps(stage: Stage): string[] {
  return stage.lines
    .filter((line) => line.startsWith("RUN "))
    .flatMap((line) =>
      [...line.matchAll(/sh scripts\/build-shield\.sh (\w+)/g)].map((found) => found[1]!),
    );
}

/**
 * `COPY [--from=build] src… dest` as Docker does it: a directory's contents go into
 * dest, a file into dest when dest ends with "/", else to dest itself. Sources are read
 * from `context` (the build context, or the stage named by --from).
 */
function copyInstruction(line: string, context: string, into: string): void {
  const words = line.split(/\s+/).slice(1);
  const fromStage = words[0]!.startsWith("--from=");
  const sources = words.slice(fromStage ? 1 : 0, -1);
  const dest = words.at(-1)!;
  for (const source of sources) {
    const from = join(context, source.replace(/^\/app\//, ""));
    const target = statSync(from).isDirectory()
      ? join(into, dest)
      : dest.endsWith("/")
        ? join(into, dest, basename(source))
        : join(into, dest);
    mkdirSync(statSync(from).isDirectory() ? target : dirname(target), { recursive: true });
    cpSync(from, target, { recursive: true });
  }
}

/**
 * The files `docker build -f deploy/Dockerfile .` sends: the tracked and new files of the
 * checkout that deploy/Dockerfile.dockerignore lets through. The file is an allow-list
 * ("*" then "!path" lines); a path admits itself and everything under it.
 */
function contextFiles(listed: string): string[] {
  const rules = readFileSync(join(ROOT, "deploy/Dockerfile.dockerignore"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  expect(rules[0], "the dockerignore starts by excluding everything").toBe("*");
  const allowed = rules.slice(1).map((rule) => {
    expect(rule.startsWith("!"), `only "!path" lines follow "*": ${rule}`).toBe(true);
    return rule.slice(1).replace(/\/$/, "");
  });
  return listed
    .split("\n")
    .filter((file) => file !== "" && existsSync(join(ROOT, file)))
    .filter((file) => allowed.some((path) => file === path || file.startsWith(`${path}/`)));
}

/**
 * The environment for npm and the shield: the suite's own, without the npm_* variables
 * an enclosing `npm test` exports (they describe this checkout, not the copy), with the
 * npm cache preferred to the registry.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith("npm_")) env[name] = value;
  }
  if (process.env.npm_config_cache !== undefined) {
    env.npm_config_cache = process.env.npm_config_cache;
  }
  env.npm_config_prefer_offline = "true";
  env.npm_config_update_notifier = "false";
  return env;
}

async function step(dir: string, name: string): Promise<string> {
  const { stdout, stderr } = await run("sh", ["scripts/build-shield.sh", name], {
    cwd: dir,
    env: childEnv(),
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout + stderr;
}

const [buildStage, runtimeStage] = stages(dockerfile);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("deploy/Dockerfile", () => {
  it("has a build stage and a runtime stage running scripts/build-shield.sh", () => {
    expect(stages(dockerfile).map((stage) => stage.name)).toEqual(["build", "runtime"]);
    expect(steps(buildStage!)).toEqual(["deps", "build"]);
    expect(steps(runtimeStage!)).toEqual(["runtime", "check"]);
  });

  it("runs the bundle as an unprivileged user on every interface, with a health check", () => {
    const lines = runtimeStage!.lines;
    expect(lines).toContain("USER node");
    expect(lines).toContain(
      'ENTRYPOINT ["node", "dist/origin-shield/main.mjs", "--host", "0.0.0.0", "--port", "8080"]',
    );
    expect(lines).toContain("COPY --from=build /app/dist/origin-shield/ dist/origin-shield/");
    expect(lines.find((line) => line.startsWith("HEALTHCHECK"))).toContain(
      'CMD ["node", "deploy/healthcheck.mjs"]',
    );
    const healthcheck = readFileSync(join(ROOT, "deploy/healthcheck.mjs"), "utf8");
    expect(healthcheck).toContain('"http://127.0.0.1:8080/__shield/health"');
  });
});

describe("the shield built as the image builds it", { timeout: 300_000 }, () => {
  let origin: TestOrigin;
  let shield: ChildProcess | undefined;
  let shieldOutput = "";
  let port = 0;

  beforeAll(async () => {
    origin = await startOrigin();
  });

  afterAll(async () => {
    if (shield !== undefined && shield.exitCode === null) shield.kill("SIGKILL");
    await origin.close();
  });

  it("build stage: bundles the shield from the build context alone", async () => {
    mkdirSync(buildDir);
    const { stdout: listed } = await run(
      "git",
      ["ls-files", "--cached", "--others", "--exclude-standard"],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    for (const file of contextFiles(listed)) {
      mkdirSync(dirname(join(buildDir, file)), { recursive: true });
      cpSync(join(ROOT, file), join(buildDir, file));
    }
    // The `deps` step's result: this checkout's installed dependencies (see the top).
    symlinkSync(join(ROOT, "node_modules"), join(buildDir, "node_modules"), "dir");
    await step(buildDir, "build");
    expect(existsSync(join(buildDir, "dist/origin-shield/main.mjs"))).toBe(true);
  });

  it("runtime stage: runtime dependencies only, and the bundle loads with them", async () => {
    mkdirSync(runtimeDir);
    // The runtime stage's instructions in order: its COPY lines (from the repository,
    // which holds what the context admits, or from the build stage) and its steps.
    for (const line of runtimeStage!.lines) {
      if (line.startsWith("COPY --from=build ")) {
        copyInstruction(line, buildDir, runtimeDir);
      } else if (line.startsWith("COPY ")) {
        copyInstruction(line, ROOT, runtimeDir);
      } else if (line.startsWith("RUN ")) {
        for (const name of steps({ name: "runtime", lines: [line] })) {
          const output = await step(runtimeDir, name);
          if (name === "check") expect(output).toContain("loads with the runtime dependencies");
        }
      }
    }
    const installed = join(runtimeDir, "node_modules");
    for (const runtime of ["sharp", "undici", "hono", "redis", "zod"]) {
      expect(existsSync(join(installed, runtime)), runtime).toBe(true);
    }
    for (const tool of ["esbuild", "tsx", "wrangler", "typescript", "vitest"]) {
      expect(existsSync(join(installed, tool)), `${tool} is not installed`).toBe(false);
    }
    expect(existsSync(join(runtimeDir, "dist/origin-shield/main.mjs"))).toBe(true);
    // Nothing else of the repository: no sources to fall back on.
    expect(existsSync(join(runtimeDir, "origin-shield"))).toBe(false);
    expect(existsSync(join(runtimeDir, "core"))).toBe(false);
  });

  it("serves a loopback origin through node dist/origin-shield/main.mjs", async () => {
    port = await freePort();
    shield = spawn(
      process.execPath,
      [
        "dist/origin-shield/main.mjs",
        "--origin",
        origin.url,
        "--host",
        HOST,
        "--port",
        String(port),
        "--log-level",
        "warn",
      ],
      { cwd: runtimeDir, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    shield.stdout?.on("data", (data: Buffer) => {
      shieldOutput += data.toString();
    });
    shield.stderr?.on("data", (data: Buffer) => {
      shieldOutput += data.toString();
    });
    const deadline = Date.now() + 30_000;
    while (!shieldOutput.includes("listening on") && Date.now() < deadline) {
      if (shield.exitCode !== null) break;
      await new Promise((done) => setTimeout(done, 50));
    }
    expect(shieldOutput, "the shield's output").toContain(`listening on http://${HOST}:${port}`);

    const first = await fetch(`http://${HOST}:${port}/hello`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("ok");
    const second = await fetch(`http://${HOST}:${port}/hello`);
    expect(second.status).toBe(200);
    expect(second.headers.get("cache-status")).toMatch(/hit/);
    expect(origin.count()).toBe(1);
  });

  it("answers the image's HEALTHCHECK script", async () => {
    const { stdout } = await run(
      process.execPath,
      ["deploy/healthcheck.mjs", `http://${HOST}:${port}/__shield/health`],
      { cwd: runtimeDir, timeout: 10_000 },
    );
    expect(stdout).toContain('"status":"ok"');
    // And fails when nothing answers, so Docker can tell.
    const closed = await freePort();
    await expect(
      run(
        process.execPath,
        ["deploy/healthcheck.mjs", `http://${HOST}:${closed}/__shield/health`],
        {
          cwd: runtimeDir,
          timeout: 10_000,
        },
      ),
    ).rejects.toMatchObject({ code: 1 });
  });

  it("drains and exits 0 on SIGTERM, within the 10 s it promises", async () => {
    const exited = new Promise<number | null>((done) => shield!.once("exit", done));
    const started = Date.now();
    shield!.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
