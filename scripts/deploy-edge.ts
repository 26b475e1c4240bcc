/**
 * `npm run deploy:edge -- --env production --config cdn.json [--dry-run]`: publishes the
 * edge Worker to one of wrangler.toml's deployed environments, with cdn.json as its
 * CDN_CONFIG.
 *
 * The config travels as a var on wrangler's command line (`wrangler deploy --var
 * CDN_CONFIG:<json>`), for three reasons:
 * - A var is uploaded with the code in one deployment: each Worker version carries the
 *   config it was deployed with (a rollback brings back both), and a deploy without
 *   --keep-vars drops any var wrangler.toml and this command do not name. A secret would
 *   be a second step (`wrangler secret put`), and Cloudflare refuses a secret whose name
 *   a var already has, which is the clash the README's old advice ran into.
 * - wrangler 4.86 documents --var for `deploy` and applies it over the environment's
 *   [vars]; the same flag already carries CDN_CONFIG to `wrangler dev` in `npm start`
 *   and tests/e2e. A generated wrangler config would have to copy every other setting
 *   of the environment and resolve `main` from a second directory.
 * - wrangler prints a var given this way as "(hidden)", so CI logs do not hold the config.
 * The price is that a deployed var is readable in the dashboard, so secrets never go in
 * it: images.signing.secret is refused (it is the IMAGE_SIGNING_SECRET Worker secret),
 * and the `shield` section, which the edge ignores and which can hold a purge token or a
 * Redis password, is left out. Cloudflare also limits one var to 5 KB.
 *
 * Everything is checked before wrangler runs, and every problem is reported at once,
 * each naming its file and field: the config against the schema both tiers share
 * (core/config), the edge's own reach (shield nodes, or origins when there are none, must
 * be addresses Cloudflare's network can reach), and the wrangler environment (it exists,
 * it is not the dev environment, it has a route, and no REPLACE-ME placeholder is left).
 * --dry-run prints the plan and runs `wrangler deploy --dry-run --outdir …`, which builds
 * the bundle without an account or the network.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Unstable_Config } from "wrangler";
import { type CdnConfig, ConfigError, parseConfig } from "../core/config/index.ts";
import { parseShieldNodesVar } from "../workers/config/shield-nodes.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The marker wrangler.toml puts in every value a user must replace before deploying. */
export const PLACEHOLDER = "REPLACE-ME";
/** Cloudflare's documented size limit of one Worker environment variable (5 KB). */
export const VAR_LIMIT_BYTES = 5 * 1024;
/** The var that holds the config, as workers/config/load.ts reads it. */
export const CONFIG_VAR = "CDN_CONFIG";
const SHIELD_NODES_VAR = "SHIELD_NODES";

export const USAGE = `Usage: npm run deploy:edge -- --env NAME --config FILE [options]

Deploys the edge Worker to the environment [env.NAME] of wrangler.toml with FILE (the
JSON config both tiers read) as its ${CONFIG_VAR} var. The config is checked first: a
bad field, a placeholder left in wrangler.toml or a shield the Worker cannot reach stops
the deploy, naming each, before wrangler runs.

Options:
  --env NAME              the wrangler environment (staging, production); required
  --config FILE           the CDN config (JSON); required
  --dry-run               print the plan and build the bundle (wrangler deploy --dry-run);
                          no account and no network needed, nothing is published
  --outdir DIR            where --dry-run writes the bundle (default dist/deploy-edge/NAME)
  --wrangler-config FILE  the wrangler configuration (default wrangler.toml)
  --help                  show this help

Secrets are not touched: set them once per environment, e.g.
  npx wrangler secret put EDGE_ADMIN_TOKEN --env NAME
  npx wrangler secret put IMAGE_SIGNING_SECRET --env NAME`;

export interface DeployOptions {
  readonly env: string;
  readonly configFile: string;
  readonly wranglerConfig: string;
  readonly dryRun: boolean;
  readonly outdir: string;
}

/** A problem that stops the deploy: where it is (file and field) and what is wrong. */
export interface DeployIssue {
  readonly where: string;
  readonly message: string;
}

export class UsageError extends Error {}

export class DeployRefused extends Error {
  readonly issues: readonly DeployIssue[];

  constructor(issues: readonly DeployIssue[]) {
    const lines = issues.map((issue) => `  ${issue.where}: ${issue.message}`);
    super(`refusing to deploy; nothing was sent to Cloudflare:\n${lines.join("\n")}`);
    this.issues = issues;
  }
}

/** What wrangler resolves for one environment, the parts this command checks. */
export interface WranglerEnv {
  readonly file: string;
  readonly name: string;
  readonly routes: readonly string[];
  readonly workersDev: boolean;
  readonly observability: boolean;
  readonly vars: Readonly<Record<string, unknown>>;
  /** Every value holding PLACEHOLDER, with its path in the environment. */
  readonly placeholders: readonly { path: string; value: string }[];
}

export interface DeployPlan {
  readonly options: DeployOptions;
  readonly wrangler: WranglerEnv;
  readonly config: CdnConfig;
  /** The CDN_CONFIG value: the file's document without what the edge must not hold. */
  readonly configText: string;
  readonly omitted: readonly string[];
  readonly shieldNodes: readonly string[];
  readonly shieldSource: string;
  readonly warnings: readonly string[];
}

/** Command-line flags; "help" for --help. Throws UsageError. */
export function parseDeployArgs(argv: readonly string[]): DeployOptions | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        env: { type: "string" },
        config: { type: "string" },
        "dry-run": { type: "boolean" },
        outdir: { type: "string" },
        "wrangler-config": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return "help";
  const env = values.env as string | undefined;
  if (env === undefined || env.trim() === "") {
    throw new UsageError(
      "--env: required (a deployed environment of wrangler.toml, such as production)",
    );
  }
  const configFile = values.config as string | undefined;
  if (configFile === undefined || configFile === "") {
    throw new UsageError("--config: required (the JSON config, e.g. cdn.json)");
  }
  const dryRun = values["dry-run"] === true;
  if (values.outdir !== undefined && !dryRun) {
    throw new UsageError("--outdir: only with --dry-run (a real deploy writes no bundle)");
  }
  return {
    env,
    configFile,
    wranglerConfig: (values["wrangler-config"] as string | undefined) ?? "wrangler.toml",
    dryRun,
    outdir: (values.outdir as string | undefined) ?? join("dist", "deploy-edge", env),
  };
}

/**
 * The environment as wrangler itself resolves it (inherited keys included, vars and
 * routes not), read with wrangler's own reader so that what is checked here is what
 * `wrangler deploy` uploads. Throws DeployRefused for an environment wrangler cannot use.
 */
export async function readWranglerEnv(file: string, env: string): Promise<WranglerEnv> {
  const where = `${file} [env.${env}]`;
  // Loaded on first use: wrangler's module takes a second or more to import.
  const { unstable_readConfig } = await import("wrangler");
  let config: Unstable_Config;
  try {
    config = unstable_readConfig({ config: file, env });
  } catch (error) {
    throw new DeployRefused([{ where, message: firstLines((error as Error).message) }]);
  }
  const routes = (config.routes ?? (config.route === undefined ? [] : [config.route])).map(
    describeRoute,
  );
  return {
    file,
    name: config.name ?? "",
    routes,
    workersDev: config.workers_dev === true,
    observability: config.observability?.enabled === true,
    vars: config.vars ?? {},
    placeholders: placeholderPaths(
      { name: config.name, routes: config.routes, route: config.route, vars: config.vars },
      "",
    ),
  };
}

type Route = NonNullable<Unstable_Config["routes"]>[number];

/** `cdn.example.com/* (zone example.com)`, as a person reads a route. */
function describeRoute(route: Route): string {
  if (typeof route === "string") return route;
  const fields = route as { pattern: string; zone_name?: string; custom_domain?: boolean };
  if (fields.custom_domain === true) return `${fields.pattern} (custom domain)`;
  return fields.zone_name === undefined
    ? fields.pattern
    : `${fields.pattern} (zone ${fields.zone_name})`;
}

/** Every string under `value` that still holds PLACEHOLDER, with its path. */
function placeholderPaths(value: unknown, path: string): { path: string; value: string }[] {
  if (typeof value === "string") return value.includes(PLACEHOLDER) ? [{ path, value }] : [];
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => placeholderPaths(item, `${path}[${index}]`));
  }
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) =>
      placeholderPaths(item, path === "" ? key : `${path}.${key}`),
    );
  }
  return [];
}

/** Wrangler's errors come with advice paragraphs; the first lines say what is wrong. */
function firstLines(message: string): string {
  return message.split("\n").slice(0, 4).join(" ").replace(/\s+/g, " ").trim();
}

/**
 * Everything checked, nothing run: the plan, or DeployRefused listing every problem of
 * the config file and of the wrangler environment together.
 */
export async function planDeploy(options: DeployOptions): Promise<DeployPlan> {
  const issues: DeployIssue[] = [];
  const warnings: string[] = [];
  const file = options.configFile;

  let wrangler: WranglerEnv | null = null;
  try {
    wrangler = await readWranglerEnv(options.wranglerConfig, options.env);
  } catch (error) {
    if (!(error instanceof DeployRefused)) throw error;
    issues.push(...error.issues);
  }
  if (wrangler !== null) issues.push(...checkWranglerEnv(wrangler, options.env, warnings));

  const parsed = readConfigFile(file);
  if (!("config" in parsed)) {
    issues.push(...parsed.issues);
    throw new DeployRefused(issues);
  }
  const { raw, config } = parsed;
  const { document, omitted } = edgeDocument(raw);
  if (secretIn(raw)) {
    issues.push({
      where: `${file} images.signing.secret`,
      message: `a var is readable in the dashboard: remove it from the file and set the Worker secret instead (npx wrangler secret put IMAGE_SIGNING_SECRET --env ${options.env}; the shield reads the IMAGE_SIGNING_SECRET environment variable)`,
    });
  }
  const configText = JSON.stringify(document);
  const bytes = Buffer.byteLength(configText);
  if (bytes > VAR_LIMIT_BYTES) {
    issues.push({
      where: file,
      message: `${bytes} bytes as compact JSON without the shield section, over Cloudflare's limit of ${VAR_LIMIT_BYTES} bytes for one Worker variable: shorten it (defaults need not be written)`,
    });
  }

  let shieldNodes: readonly string[] = config.edge.shieldNodes;
  let shieldSource = `${file} edge.shieldNodes`;
  const shieldVar = wrangler?.vars[SHIELD_NODES_VAR];
  if (wrangler !== null && typeof shieldVar === "string") {
    const fromVar = parseShieldNodesVar(shieldVar);
    const where = `${wrangler.file} [env.${options.env}] vars.${SHIELD_NODES_VAR}`;
    if (fromVar instanceof ConfigError) {
      for (const issue of fromVar.issues) {
        issues.push({ where: `${where}${issue.path}`, message: issue.message });
      }
    } else if (fromVar !== undefined) {
      shieldNodes = fromVar;
      shieldSource = where;
    }
  }
  // Misses go to the shields when there are any; only without them does the Worker fetch
  // the origins itself, and then it is the origins it must be able to reach.
  const targets =
    shieldNodes.length > 0
      ? shieldNodes.map((url, index) => ({ url, where: `${shieldSource}[${index}]` }))
      : config.origins.map((origin, index) => ({
          url: origin.url,
          where: `${file} origins[${index}].url`,
        }));
  for (const target of targets) {
    const reason = unreachableReason(target.url);
    if (reason !== null) {
      issues.push({
        where: target.where,
        message: `${target.url} ${reason}; a deployed Worker runs on Cloudflare's network and cannot reach it (give it a public hostname, or publish it through Cloudflare Tunnel)`,
      });
    }
  }

  if (issues.length > 0 || wrangler === null) throw new DeployRefused(issues);
  return { options, wrangler, config, configText, omitted, shieldNodes, shieldSource, warnings };
}

function checkWranglerEnv(wrangler: WranglerEnv, env: string, warnings: string[]): DeployIssue[] {
  const where = `${wrangler.file} [env.${env}]`;
  const issues: DeployIssue[] = wrangler.placeholders.map((found) => ({
    where: `${where} ${found.path}`,
    message: `"${found.value}" is a placeholder: replace ${PLACEHOLDER} with your own value`,
  }));
  if (wrangler.routes.length === 0) {
    issues.push({
      where: `${where} routes`,
      message:
        "no route: the Cache API stores nothing on workers.dev, so the edge needs a route on a zone of yours",
    });
  }
  if (wrangler.workersDev) {
    warnings.push(
      `${where} workers_dev is true: the workers.dev URL reaches the Worker around your zone's settings, and caches nothing there`,
    );
  }
  if (!wrangler.observability) {
    warnings.push(
      `${where} observability is off: config issues the Worker logs will reach only a live \`wrangler tail\``,
    );
  }
  const configVar = wrangler.vars[CONFIG_VAR];
  if (typeof configVar === "string" && configVar.trim() !== "") {
    warnings.push(
      `${where} vars.${CONFIG_VAR} is set in ${wrangler.file}; this deploy replaces it with the config file`,
    );
  }
  return issues;
}

/** The file as JSON, validated by the shared schema; or the issues naming each field. */
function readConfigFile(
  file: string,
): { raw: Record<string, unknown>; config: CdnConfig } | { issues: DeployIssue[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { issues: [{ where: file, message: `cannot read it: ${(error as Error).message}` }] };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { issues: [{ where: file, message: `not JSON: ${(error as Error).message}` }] };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { issues: [{ where: file, message: "must hold a JSON object" }] };
  }
  try {
    return { raw: raw as Record<string, unknown>, config: parseConfig(raw, file) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return {
      issues: error.issues.map((issue) => ({
        where: issue.path === "" ? file : `${file} ${issue.path}`,
        message: issue.message,
      })),
    };
  }
}

/**
 * The document the Worker gets: the file as written (defaults stay implicit, which
 * keeps it small), without the `shield` section. The edge ignores that section, and it
 * is where a purge token, a Redis URL with its password and internal paths live.
 */
export function edgeDocument(raw: Readonly<Record<string, unknown>>): {
  document: Record<string, unknown>;
  omitted: string[];
} {
  const { shield, ...document } = raw;
  return { document, omitted: shield === undefined ? [] : ["shield"] };
}

function secretIn(raw: Readonly<Record<string, unknown>>): boolean {
  const images = raw.images as Record<string, unknown> | undefined;
  const signing = images?.signing as Record<string, unknown> | undefined;
  return signing?.secret !== undefined;
}

const PRIVATE_RANGES = new BlockList();
for (const [network, bits] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private (RFC 1918)
  ["100.64.0.0", 10], // carrier-grade NAT (RFC 6598)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local
  ["172.16.0.0", 12], // private
  ["192.168.0.0", 16], // private
] as const) {
  PRIVATE_RANGES.addSubnet(network, bits, "ipv4");
}
for (const [network, bits] of [
  ["::", 127], // unspecified and loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
] as const) {
  PRIVATE_RANGES.addSubnet(network, bits, "ipv6");
}

/** Names public DNS never answers: reserved for loopback and local networks. */
const LOCAL_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa"];

/**
 * Why Cloudflare's network cannot reach this URL's host, or null when it may: loopback,
 * private and link-local addresses, and names only a local resolver knows (a bare
 * service name such as a compose file's "shield-1" among them). A public name is
 * trusted; whether it resolves is DNS's business, not a deploy check's.
 */
export function unreachableReason(url: string): string | null {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const family = isIP(host);
  if (family !== 0) {
    const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1] : undefined;
    const inRange =
      mapped !== undefined
        ? PRIVATE_RANGES.check(mapped, "ipv4")
        : PRIVATE_RANGES.check(host, family === 6 ? "ipv6" : "ipv4");
    return inRange ? "is a loopback, private or link-local address" : null;
  }
  const name = host.replace(/\.$/, "");
  if (name === "localhost" || LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) {
    return "is a name only the local network resolves";
  }
  if (!name.includes(".")) return "is a single-label name, which public DNS does not resolve";
  return null;
}

/** The arguments of `wrangler deploy` for this plan. */
export function wranglerArgs(plan: DeployPlan): string[] {
  const { options } = plan;
  const args = ["deploy", "--env", options.env, "--config", options.wranglerConfig];
  if (options.dryRun) args.push("--dry-run", "--outdir", options.outdir);
  // Last, as one `--var NAME:VALUE` pair: wrangler splits at the first ":" only, so the
  // JSON's own colons survive (workers/config/load.ts reads back exactly this text).
  args.push("--var", `${CONFIG_VAR}:${plan.configText}`);
  return args;
}

/** What the deploy will do, for a person to read before it happens. */
export function describePlan(plan: DeployPlan): string {
  const { options, wrangler, config } = plan;
  const bytes = Buffer.byteLength(plan.configText);
  const omitted =
    plan.omitted.length === 0
      ? ""
      : `; left out: ${plan.omitted.join(", ")} (the edge ignores it, and it can hold tokens)`;
  const shown = wranglerArgs(plan).map((arg) =>
    arg.startsWith(`${CONFIG_VAR}:`)
      ? `${CONFIG_VAR}:<${options.configFile}, ${bytes} bytes>`
      : arg,
  );
  const lines = [
    `deploy:edge: ${options.dryRun ? "dry run, nothing will be published" : "deploying"}`,
    `  worker         ${wrangler.name} (${wrangler.file} [env.${options.env}])`,
    `  routes         ${wrangler.routes.join(", ")}`,
    `  observability  ${wrangler.observability ? "on (Workers Logs)" : "off"}`,
    `  ${CONFIG_VAR}     ${options.configFile}, ${bytes} of ${VAR_LIMIT_BYTES} bytes${omitted}`,
    ...config.origins.map(
      (origin, index) =>
        `  ${index === 0 ? "origins       " : "              "} ${origin.name}: ${origin.url} for ${origin.hosts.join(", ")}`,
    ),
    plan.shieldNodes.length === 0
      ? "  misses go to   the origins directly (no shield nodes)"
      : `  misses go to   ${plan.shieldNodes.join(", ")} (${plan.shieldSource})`,
    `  secrets        left as they are (npx wrangler secret put EDGE_ADMIN_TOKEN --env ${options.env}, and IMAGE_SIGNING_SECRET for signed transform URLs)`,
    ...plan.warnings.map((warning) => `  warning        ${warning}`),
    `  runs           wrangler ${shown.join(" ")}`,
  ];
  if (options.dryRun) lines.push(`  ${CONFIG_VAR} value: ${plan.configText}`);
  return lines.join("\n");
}

/** Runs wrangler from this checkout with the plan's arguments; resolves to its exit code. */
export function runWrangler(plan: DeployPlan): Promise<number> {
  const bin = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const child = spawn(process.execPath, [bin, ...wranglerArgs(plan)], { stdio: "inherit" });
  return new Promise((done) => {
    child.on("error", (error) => {
      process.stderr.write(`deploy:edge: cannot run wrangler: ${error.message}\n`);
      done(1);
    });
    child.on("exit", (code, signal) => done(code ?? (signal === null ? 1 : 128)));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  let options: DeployOptions | "help";
  try {
    options = parseDeployArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`deploy:edge: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let plan: DeployPlan;
  try {
    plan = await planDeploy(options);
  } catch (error) {
    if (!(error instanceof DeployRefused)) throw error;
    process.stderr.write(`deploy:edge: ${error.message}\n`);
    return 1;
  }
  process.stdout.write(`${describePlan(plan)}\n`);
  const code = await runWrangler(plan);
  if (code === 0 && options.dryRun) {
    process.stdout.write(
      `deploy:edge: dry run done, nothing published; the bundle is in ${options.outdir}\n`,
    );
  }
  return code;
}

// As a command (tsx scripts/deploy-edge.ts …); imported by the tests, it does nothing.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
