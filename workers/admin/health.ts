/**
 * GET /__edge/health. Anyone may learn that the edge is up (load balancers and uptime
 * checks need no secret); only the admin token (EDGE_ADMIN_TOKEN) shows what the edge is
 * configured with: its origins, the shield nodes' internal URLs, and, when the config is
 * invalid, every issue in it. To anyone else a bad config is the same bare 500 every
 * request gets.
 */
import { ConfigError } from "../../core/config/index.ts";
import type { EdgeRuntime } from "../config/runtime.ts";
import { misconfigured } from "../errors.ts";

/** Never stored: the answer depends on who asks and changes with the config. */
const HEADERS = { "cache-control": "no-store" } as const;

export function healthResponse(runtime: EdgeRuntime | ConfigError, admin: boolean): Response {
  if (runtime instanceof ConfigError) {
    if (!admin) return misconfigured();
    return Response.json(
      { error: "config_invalid", message: runtime.message, issues: runtime.issues },
      { status: 500, headers: HEADERS },
    );
  }
  if (!admin) return Response.json({ status: "ok" }, { headers: HEADERS });
  return Response.json(
    {
      status: "ok",
      origins: runtime.config.origins.map((o) => o.name),
      shieldNodes: runtime.edge.shieldNodes,
    },
    { headers: HEADERS },
  );
}
