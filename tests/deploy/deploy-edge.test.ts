/**
 * `npm run deploy:edge` (scripts/deploy-edge.ts) and the environments of wrangler.toml:
 * a bad config, a placeholder left in place or a shield the Worker cannot reach stops
 * the deploy, naming each, before wrangler runs; --dry-run prints the plan and builds the
 * bundle with `wrangler deploy --dry-run`, with no Cloudflare account in the environment
 * (wrangler asks for one only when it publishes).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../core/config/index.ts";
import {
  DeployRefused,
  edgeDocument,
  PLACEHOLDER,
  parseDeployArgs,
  planDeploy,
  unreachableReason,
  VAR_LIMIT_BYTES,
  wranglerArgs,
} from "../../scripts/deploy-edge.ts";
import { loadConfig } from "../../workers/config/load.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(join(tmpdir(), "deploy-edge-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const repoWrangler = readFileSync(join(root, "wrangler.toml"), "utf8");

/**
 * wrangler.toml as a user makes it ready: every placeholder replaced, nothing else
 * changed. It lives in a temporary directory, so `main` points back at the Worker and
 * wrangler's scratch files stay out of the repository.
 */
const readyWrangler = join(work, "wrangler.toml");
writeFileSync(
  readyWrangler,
  repoWrangler
    .replaceAll(`${PLACEHOLDER}.example`, "example.com")
    .replace(/^main = .*$/m, `main = ${JSON.stringify(join(root, "workers/index.ts"))}`),
);

function writeConfig(name: string, document: unknown): string {
  const file = join(work, name);
  writeFileSync(file, JSON.stringify(document, null, 2));
  return file;
}

const good = {
  origins: [{ name: "www", url: "http://10.0.0.5:8080", hosts: ["www.example.com"] }],
  edge: { shieldNodes: ["https://shield-1.example.com", "https://shield-2.example.com"] },
  shield: { purgeToken: "a-purge-token-of-some-length", trustedProxies: ["10.0.0.0/8"] },
};
const goodFile = writeConfig("cdn.json", good);

function options(configFile: string, overrides: Partial<Parameters<typeof planDeploy>[0]> = {}) {
  return {
    env: "production",
    configFile,
    wranglerConfig: readyWrangler,
    dryRun: true,
    outdir: join(work, "out"),
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DeployRefused);
  return (error as DeployRefused).issues.map((issue) => `${issue.where}: ${issue.message}`);
}

/** The environment without any Cloudflare credential: a dry run must not need one. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };
  for (const name of Object.keys(env)) {
    if (name.startsWith("CLOUDFLARE_") || name.startsWith("CF_")) delete env[name];
  }
  return env;
}

/** `npm run deploy:edge -- …` as a user types it, from the repository root. */
function deployEdge(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "npm",
      ["run", "--silent", "deploy:edge", "--", ...args],
      { cwd: root, env: offlineEnv(), timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe("wrangler.toml's environments", () => {
  it("keep the demo values in the dev environment and ship none to staging or production", async () => {
    const { unstable_readConfig } = await import("wrangler");
    const dev = unstable_readConfig({ config: join(root, "wrangler.toml") });
    // tests/workers and tests/e2e run on these.
    expect(dev.vars.CDN_CONFIG).toContain("127.0.0.1:9000");
    expect(dev.routes ?? []).toEqual([]);
    expect(dev.workers_dev).toBe(false);
    for (const env of ["staging", "production"]) {
      const deployed = unstable_readConfig({ config: join(root, "wrangler.toml"), env });
      expect(deployed.name).toBe(`edge-cdn-${env}`);
      expect(deployed.vars).toEqual({ CDN_CONFIG: "", SHIELD_NODES: "" });
      expect(deployed.observability?.enabled).toBe(true);
      expect(deployed.workers_dev).toBe(false);
      // Placeholders, clearly marked, on a reserved domain that can never be a real zone.
      expect(JSON.stringify(deployed.routes)).toContain(`${PLACEHOLDER}.example`);
    }
  });

  it("a bare `wrangler deploy --env production` deploys no config: the Worker refuses to serve", () => {
    // The environments' CDN_CONFIG is "", which the Worker reports as unset (and answers
    // every request with 500 config_invalid) rather than serving some default.
    const result = loadConfig("");
    expect(result).toBeInstanceOf(ConfigError);
    expect((result as ConfigError).message).toContain("CDN_CONFIG is not set");
  });
});

describe("deploy:edge checks", () => {
  it("parses its flags and insists on --env and --config", () => {
    expect(parseDeployArgs(["--env", "production", "--config", "cdn.json"])).toMatchObject({
      env: "production",
      configFile: "cdn.json",
      wranglerConfig: "wrangler.toml",
      dryRun: false,
    });
    expect(
      parseDeployArgs(["--env", "staging", "--config", "cdn.json", "--dry-run"]),
    ).toMatchObject({ dryRun: true, outdir: join("dist", "deploy-edge", "staging") });
    expect(() => parseDeployArgs(["--config", "cdn.json"])).toThrow(/--env: required/);
    expect(() => parseDeployArgs(["--env", "production"])).toThrow(/--config: required/);
    expect(() => parseDeployArgs(["--env", "", "--config", "cdn.json"])).toThrow(/--env/);
    expect(() =>
      parseDeployArgs(["--env", "production", "--config", "cdn.json", "--outdir", "x"]),
    ).toThrow(/only with --dry-run/);
    expect(() => parseDeployArgs(["--env", "production", "--confg", "cdn.json"])).toThrow();
  });

  it("knows which hosts Cloudflare's network cannot reach", () => {
    for (const url of [
      "http://127.0.0.1:8080",
      "http://10.0.0.7:8080",
      "http://172.20.1.1",
      "http://192.168.1.10",
      "http://169.254.169.254",
      "http://100.64.0.1",
      "http://[::1]:8080",
      "http://[fd00::7]",
      "http://[fe80::1]",
      "http://[::ffff:10.0.0.1]",
      "http://localhost:8080",
      "http://shield.localhost",
      "http://shield-1:8080",
      "http://cache.internal",
      "http://box.local",
    ]) {
      expect(unreachableReason(url), url).not.toBeNull();
    }
    for (const url of [
      "https://shield-1.example.com",
      "http://203.0.113.7:8080",
      "http://172.32.0.1",
      "http://[2001:db8::1]",
    ]) {
      expect(unreachableReason(url), url).toBeNull();
    }
  });

  it("leaves the shield section out of the Worker's config", () => {
    const { document, omitted } = edgeDocument(good);
    expect(document).not.toHaveProperty("shield");
    expect(document).toEqual({ origins: good.origins, edge: good.edge });
    expect(omitted).toEqual(["shield"]);
  });

  it("plans a deploy whose CDN_CONFIG the Worker reads back as the file's config", async () => {
    const plan = await planDeploy(options(goodFile));
    expect(plan.wrangler.name).toBe("edge-cdn-production");
    expect(plan.wrangler.routes).toEqual(["cdn.example.com/* (zone example.com)"]);
    expect(plan.shieldNodes).toEqual(good.edge.shieldNodes);
    const args = wranglerArgs(plan);
    expect(args.slice(0, 5)).toEqual(["deploy", "--env", "production", "--config", readyWrangler]);
    expect(args).toContain("--dry-run");
    const pair = args.at(-1)!;
    expect(args.at(-2)).toBe("--var");
    // wrangler keeps what follows the first ":" (its collectKeyValues); the Worker reads it.
    const value = pair.slice(pair.indexOf(":") + 1);
    expect(pair.slice(0, pair.indexOf(":"))).toBe("CDN_CONFIG");
    const read = loadConfig(value);
    expect(read).not.toBeInstanceOf(Error);
    expect(read).toMatchObject({ origins: [{ name: "www" }] });
    expect(value).not.toContain("purge");
  });

  it("names every field of a bad config, and the placeholders, together", async () => {
    const bad = writeConfig("bad.json", {
      origins: [{ name: "www", url: "ftp://origin", hosts: [] }],
      rules: [{ name: "r", match: { path: "/a" }, ttl: { flor: 1 } }],
    });
    const issues = await refusal(
      planDeploy(options(bad, { wranglerConfig: join(root, "wrangler.toml") })),
    );
    const text = issues.join("\n");
    expect(text).toContain(`${bad} origins[0].url:`);
    expect(text).toContain(`${bad} origins[0].hosts:`);
    expect(text).toContain(`${bad} rules[0].ttl.flor: unknown key`);
    expect(text).toMatch(
      /\[env\.production\] routes\[0\]\.pattern: "cdn\.REPLACE-ME\.example\/\*"/,
    );
    expect(text).toContain("[env.production] routes[0].zone_name");
  });

  it("refuses what is not JSON, naming the file", async () => {
    const file = join(work, "broken.json");
    writeFileSync(file, "{ origins: ");
    const issues = await refusal(planDeploy(options(file)));
    expect(issues).toEqual([expect.stringMatching(new RegExp(`^${file}: not JSON`))]);
  });

  it("refuses a signing secret in the file: a var is readable in the dashboard", async () => {
    const file = writeConfig("secret.json", {
      ...good,
      images: { signing: { secret: "s".repeat(40) } },
    });
    const issues = await refusal(planDeploy(options(file)));
    expect(issues).toEqual([
      expect.stringMatching(/images\.signing\.secret: .*wrangler secret put IMAGE_SIGNING_SECRET/),
    ]);
  });

  it("refuses shield nodes the Worker cannot reach, and origins when there are no shields", async () => {
    const privateShields = writeConfig("private.json", {
      ...good,
      edge: { shieldNodes: ["https://shield-1.example.com", "http://10.0.0.8:8080"] },
    });
    expect(await refusal(planDeploy(options(privateShields)))).toEqual([
      expect.stringMatching(/edge\.shieldNodes\[1\]: http:\/\/10\.0\.0\.8:8080 is a loopback/),
    ]);
    // Without shields the Worker fetches the origins itself: then they must be public.
    const direct = writeConfig("direct.json", { origins: good.origins });
    expect(await refusal(planDeploy(options(direct)))).toEqual([
      expect.stringMatching(/origins\[0\]\.url: http:\/\/10\.0\.0\.5:8080 is a loopback/),
    ]);
    const publicOrigin = writeConfig("public.json", {
      origins: [{ name: "www", url: "https://origin.example.com", hosts: ["www.example.com"] }],
    });
    await expect(planDeploy(options(publicOrigin))).resolves.toMatchObject({ shieldNodes: [] });
  });

  it("refuses a config over Cloudflare's size limit for one variable", async () => {
    const rules = Array.from({ length: 80 }, (_rule, index) => ({
      name: `rule-${index}`,
      match: { path: `/section-${index}/**` },
      ttl: { floor: 60 },
    }));
    const file = writeConfig("large.json", { ...good, rules });
    const issues = await refusal(planDeploy(options(file)));
    expect(issues).toEqual([
      expect.stringMatching(
        new RegExp(`^${file}: \\d+ bytes .* limit of ${VAR_LIMIT_BYTES} bytes`),
      ),
    ]);
  });

  it("refuses an environment wrangler.toml does not define", async () => {
    const issues = await refusal(planDeploy(options(goodFile, { env: "prod" })));
    expect(issues).toEqual([
      expect.stringContaining('No environment found in configuration with name "prod"'),
    ]);
  });
});

// Three processes at once: each spends most of its time starting tsx and wrangler.
describe.concurrent("npm run deploy:edge", () => {
  it("stops at a bad field before wrangler runs", { timeout: 60_000 }, async () => {
    const bad = writeConfig("bad-field.json", {
      origins: [{ name: "www", url: "http://10.0.0.5", hosts: ["www.example.com"] }],
      edge: { shieldNodes: ["https://shield-1.example.com"], maxAttempts: 0 },
    });
    const outdir = join(work, "never");
    const run = await deployEdge([
      "--env",
      "production",
      "--config",
      bad,
      "--wrangler-config",
      readyWrangler,
      "--dry-run",
      "--outdir",
      outdir,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("refusing to deploy; nothing was sent to Cloudflare");
    expect(run.stderr).toContain(`${bad} edge.maxAttempts: must be ≥ 1`);
    // wrangler never started: no banner, no bundle.
    expect(run.stdout + run.stderr).not.toContain("⛅️ wrangler");
    expect(existsSync(outdir)).toBe(false);
  });

  it("refuses wrangler.toml's placeholders, even for a dry run", { timeout: 60_000 }, async () => {
    const run = await deployEdge(["--env", "staging", "--config", goodFile, "--dry-run"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'wrangler.toml [env.staging] routes[0].pattern: "cdn-staging.REPLACE-ME.example/*" is a placeholder',
    );
    expect(run.stdout + run.stderr).not.toContain("⛅️ wrangler");
  });

  it("--dry-run prints the plan and builds the bundle, without an account", {
    timeout: 120_000,
  }, async () => {
    const outdir = join(work, "bundle");
    const run = await deployEdge([
      "--env",
      "production",
      "--config",
      goodFile,
      "--wrangler-config",
      readyWrangler,
      "--dry-run",
      "--outdir",
      outdir,
    ]);
    expect(run.stderr + run.stdout, "deploy:edge output").toContain("--dry-run: exiting now.");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("deploy:edge: dry run, nothing will be published");
    expect(run.stdout).toContain("worker         edge-cdn-production");
    expect(run.stdout).toContain("routes         cdn.example.com/* (zone example.com)");
    expect(run.stdout).toContain("left out: shield");
    expect(run.stdout).toMatch(
      /runs {11}wrangler deploy --env production --config \S+ --dry-run --outdir \S+ --var CDN_CONFIG:</,
    );
    // wrangler bound the var (and shows its value as hidden) and wrote the bundle.
    expect(run.stdout).toMatch(/env\.CDN_CONFIG \("\(hidden\)"\)\s+Environment Variable/);
    expect(readFileSync(join(outdir, "index.js"), "utf8")).toContain("CDN_CONFIG");
  });
});
