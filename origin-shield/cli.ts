/**
 * Command-line flags of `npm run shield`, parsed and checked before anything starts: a
 * bad flag or config field stops the process with a message naming it.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type CdnConfig, ConfigError, parseConfig } from "../core/config/index.ts";
import type { LogLevel } from "./observe/log.ts";

export const HELP = `Usage: npm run shield -- --origin URL [options]

Starts one origin shield node: a caching reverse proxy in front of your origin.

  --origin URL      The origin to fetch (http or https). It serves every Host and
                    replaces "origins" from --config. Required unless --config lists
                    origins.
  --config FILE     JSON config (the schema in README "Configuration"): rules, key,
                    cache and shield settings, several origins routed by host/path.
  --port N          Port to listen on (0 picks a free one). Default 8080.
  --host H          Address to listen on. Default 127.0.0.1; use 0.0.0.0 to serve
                    other machines.
  --log-level L     fatal, error, warn, info (one JSON line per request), debug,
                    trace or silent. Default info.
  --help            Show this help.

Environment:
  SHIELD_PURGE_TOKEN  Bearer token for POST /__shield/purge (overrides
                      shield.purgeToken); without one, purge is disabled.
  IMAGE_SIGNING_SECRET
                    HMAC key for signed image transform URLs (overrides
                    images.signing.secret); with one, unsigned transforms get 403.
  SHIELD_EDGE_SECRET
                    Secret shared with the edge Worker (its EDGE_SHIELD_SECRET;
                    overrides shield.edgeAuth.secret): proxy requests without
                    the edge's CDN-Edge-Signature get 403.
  SHIELD_REDIS_URL  Redis shared by every shield node (overrides shield.redis.url
                    and turns the Redis tier on): shared hits, one origin fetch
                    per key for the cluster, purges that reach every node.
  CLOUDFLARE_API_TOKEN
                    With shield.cloudflare.zoneId: purges also clear the edge
                    (an API token with the Zone → Cache Purge permission).

Endpoints: /__shield/health, /__shield/metrics (Prometheus), /__shield/purge.
SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit within 10 s.`;

export interface CliOptions {
  readonly config: CdnConfig;
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
}

export class CliError extends Error {}

const LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Parse argv; returns "help" for --help. Throws CliError or ConfigError. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        origin: { type: "string" },
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\nRun with --help for the flags.`);
  }
  if (values.help === true) return "help";

  const portText = (values.port as string | undefined) ?? "8080";
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65_535) {
    throw new CliError(`--port: must be an integer 0-65535, got "${portText}"`);
  }
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  if (host === "") throw new CliError("--host: must not be empty");
  const logLevel = ((values["log-level"] as string | undefined) ?? "info") as LogLevel;
  if (!LEVELS.includes(logLevel)) {
    throw new CliError(`--log-level: must be one of ${LEVELS.join(", ")}, got "${logLevel}"`);
  }

  const file = values.config as string | undefined;
  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new CliError(`--config: cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new CliError(`--config: ${file} must hold a JSON object`);
      }
      raw = parsed as Record<string, unknown>;
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`--config: ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const origin = values.origin as string | undefined;
  if (origin !== undefined) {
    raw = { ...raw, origins: [{ name: "origin", url: origin, hosts: ["*"] }] };
  } else if (raw.origins === undefined) {
    throw new CliError("--origin: required (or a --config file that lists origins)");
  }
  const token = env.SHIELD_PURGE_TOKEN;
  if (token !== undefined && token !== "") {
    const shield = (raw.shield ?? {}) as Record<string, unknown>;
    raw = { ...raw, shield: { ...shield, purgeToken: token } };
  }
  const edgeSecret = env.SHIELD_EDGE_SECRET;
  if (edgeSecret !== undefined && edgeSecret !== "") {
    const shield = (raw.shield ?? {}) as Record<string, unknown>;
    const edgeAuth = (shield.edgeAuth ?? {}) as Record<string, unknown>;
    raw = { ...raw, shield: { ...shield, edgeAuth: { ...edgeAuth, secret: edgeSecret } } };
  }
  const redisUrl = env.SHIELD_REDIS_URL;
  if (redisUrl !== undefined && redisUrl !== "") {
    const shield = (raw.shield ?? {}) as Record<string, unknown>;
    const redis = (shield.redis ?? {}) as Record<string, unknown>;
    raw = { ...raw, shield: { ...shield, redis: { ...redis, url: redisUrl } } };
  }
  const secret = env.IMAGE_SIGNING_SECRET;
  if (secret !== undefined && secret !== "") {
    const images = (raw.images ?? {}) as Record<string, unknown>;
    const signing = (images.signing ?? {}) as Record<string, unknown>;
    raw = { ...raw, images: { ...images, signing: { ...signing, secret } } };
  }
  try {
    return { config: parseConfig(raw, file ?? "command line"), port, host, logLevel };
  } catch (err) {
    if (err instanceof ConfigError && origin !== undefined) {
      const fromFlag = err.issues.some((i) => i.path.startsWith("origins"));
      if (fromFlag) throw new CliError(`--origin: ${err.issues.map((i) => i.message).join("; ")}`);
    }
    throw err;
  }
}
