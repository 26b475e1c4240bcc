import {
  type CdnConfig,
  ConfigError,
  parseConfig,
  parseConfigJson,
} from "../../core/config/index.ts";

/**
 * The Worker's configuration comes from the `CDN_CONFIG` var (a JSON document with the
 * shield's schema), with the `IMAGE_SIGNING_SECRET` secret in place of
 * `images.signing.secret` when it is set, as the shield takes its environment variable.
 * Workers have no startup hook, so it is validated on the first request an isolate
 * serves and memoised by its text and secret; a bad config answers every request with a
 * 500 instead of serving with half a config (./from-env.ts says who sees which fields).
 */
let cached: { text: string; secret: string; result: CdnConfig | ConfigError } | null = null;

export function loadConfig(
  text: string | undefined,
  signingSecret?: string | undefined,
): CdnConfig | ConfigError {
  const source = text ?? "";
  const secret = signingSecret ?? "";
  if (cached !== null && cached.text === source && cached.secret === secret) {
    return cached.result;
  }
  let result: CdnConfig | ConfigError;
  if (text === undefined || text.trim() === "") {
    result = new ConfigError(
      [{ path: "", message: "CDN_CONFIG is not set (see wrangler.toml)" }],
      "CDN_CONFIG",
    );
  } else {
    try {
      result = parseWithSecret(text, secret);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      result = error;
    }
  }
  cached = { text: source, secret, result };
  return result;
}

function parseWithSecret(text: string, secret: string): CdnConfig {
  if (secret === "") return parseConfigJson(text, "CDN_CONFIG");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Not JSON: parseConfigJson reports it as the config's issue, as without a secret.
    return parseConfigJson(text, "CDN_CONFIG");
  }
  return parseConfig(withSigningSecret(raw, secret), "CDN_CONFIG");
}

/**
 * The document with the secret as `images.signing.secret`, validated with the rest (it
 * must be at least 32 characters). An empty secret is no secret, as at the shield.
 */
function withSigningSecret(raw: unknown, secret: string): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const document = raw as Record<string, unknown>;
  const images = (document.images ?? {}) as Record<string, unknown>;
  const signing = (images.signing ?? {}) as Record<string, unknown>;
  return { ...document, images: { ...images, signing: { ...signing, secret } } };
}
