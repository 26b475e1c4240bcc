/**
 * The runtime for the Worker's bindings, or the ConfigError that stops it serving.
 *
 * A bad config is the operator's to see, not the visitors': the issues can name origin
 * URLs, internal addresses and rule names. They go to the Worker's log (`wrangler tail`,
 * Workers Logs) and to /__edge/health with the admin token; visitors get a bare 500.
 * The log is written when the bad text is first met, not on every request it refuses.
 */
import { ConfigError } from "../../core/config/index.ts";
import type { Env } from "../bindings.ts";
import { MIN_SECRET_LENGTH } from "../upstream/sign-request.ts";
import { loadConfig } from "./load.ts";
import { type EdgeRuntime, edgeRuntime } from "./runtime.ts";

/** The CDN_CONFIG, SHIELD_NODES and signing secret whose issues were logged last. */
let logged: string | null = null;

export function runtimeFromEnv(env: Env): EdgeRuntime | ConfigError {
  const config = loadConfig(env.CDN_CONFIG, env.IMAGE_SIGNING_SECRET);
  const runtime =
    config instanceof ConfigError
      ? config
      : (shieldSecretIssue(env.EDGE_SHIELD_SECRET) ?? edgeRuntime(config, env.SHIELD_NODES));
  if (runtime instanceof ConfigError) {
    const short = shieldSecret(env) === undefined ? "" : "edge-secret";
    const text = `${env.CDN_CONFIG ?? ""}\u0000${env.SHIELD_NODES ?? ""}\u0000${env.IMAGE_SIGNING_SECRET ?? ""}\u0000${short}`;
    if (text !== logged) {
      logged = text;
      console.error(`edge: refusing to serve: ${runtime.message}`);
    }
  }
  return runtime;
}

/** EDGE_SHIELD_SECRET when set and not blank: the key requests to shields are signed with. */
export function shieldSecret(env: Env): string | undefined {
  const secret = env.EDGE_SHIELD_SECRET;
  return secret === undefined || secret.trim() === "" ? undefined : secret;
}

/**
 * A secret too short for a shield to accept (shield.edgeAuth.secret) stops the Worker,
 * as a bad config does: signing with it would get every miss refused.
 */
function shieldSecretIssue(secret: string | undefined): ConfigError | null {
  if (secret === undefined || secret.trim() === "" || secret.length >= MIN_SECRET_LENGTH) {
    return null;
  }
  const message = `must be at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -base64 32)`;
  return new ConfigError([{ path: "", message }], "EDGE_SHIELD_SECRET");
}
