import { Hono } from "hono";
import { type CdnConfig, ConfigError } from "../core/config/index.ts";
import { loadConfig } from "./config/load.ts";

export interface Env {
  /** The CDN config as JSON (core/config schema). */
  readonly CDN_CONFIG?: string;
}

type AppEnv = { Bindings: Env; Variables: { config: CdnConfig } };

const app = new Hono<AppEnv>();

// Every request first needs a valid config; with a bad one the Worker refuses to serve
// and says which fields are wrong.
app.use("*", async (c, next) => {
  const config = loadConfig(c.env.CDN_CONFIG);
  if (config instanceof ConfigError) {
    return c.json({ error: "config_invalid", message: config.message, issues: config.issues }, 500);
  }
  c.set("config", config);
  await next();
});

app.get("/__edge/health", (c) =>
  c.json({ status: "ok", origins: c.get("config").origins.map((o) => o.name) }),
);

export default app;
