import { type CdnConfig, ConfigError, parseConfigJson } from "../../core/config/index.ts";

/**
 * The Worker's configuration comes from the `CDN_CONFIG` var (a JSON document with the
 * shield's schema). Workers have no startup hook, so it is validated on the first request
 * an isolate serves and memoised by its text; a bad config answers every request with a
 * 500 instead of serving with half a config (./from-env.ts says who sees which fields).
 */
let cached: { text: string; result: CdnConfig | ConfigError } | null = null;

export function loadConfig(text: string | undefined): CdnConfig | ConfigError {
  const source = text ?? "";
  if (cached !== null && cached.text === source) return cached.result;
  let result: CdnConfig | ConfigError;
  if (text === undefined || text.trim() === "") {
    result = new ConfigError(
      [{ path: "", message: "CDN_CONFIG is not set (see wrangler.toml)" }],
      "CDN_CONFIG",
    );
  } else {
    try {
      result = parseConfigJson(text, "CDN_CONFIG");
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      result = error;
    }
  }
  cached = { text: source, result };
  return result;
}
