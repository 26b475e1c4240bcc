/**
 * Everything the edge derives from its configuration, computed once per isolate and
 * config text (Workers have no startup hook): what both tiers compile from a config
 * (core/config/compile.ts: policy options, TTL rules, the origin router, bypass
 * cookies) and the shield nodes prepared for rendezvous hashing.
 */
import type { CdnConfig, CompiledConfig, EdgeConfig } from "../../core/config/index.ts";
import { ConfigError, compileConfig } from "../../core/config/index.ts";
import { type RendezvousNodes, rendezvousNodes } from "../../core/routing/index.ts";
import { parseShieldNodesVar } from "./shield-nodes.ts";

export interface EdgeRuntime extends CompiledConfig {
  readonly edge: EdgeConfig;
  /** The shield nodes in effect (SHIELD_NODES or edge.shieldNodes); null: fetch origins. */
  readonly shields: RendezvousNodes | null;
}

let cached: {
  config: CdnConfig;
  shieldVar: string | undefined;
  result: EdgeRuntime | ConfigError;
} | null = null;

export function edgeRuntime(
  config: CdnConfig,
  shieldVar: string | undefined,
): EdgeRuntime | ConfigError {
  if (cached !== null && cached.config === config && cached.shieldVar === shieldVar) {
    return cached.result;
  }
  const fromVar = parseShieldNodesVar(shieldVar);
  let result: EdgeRuntime | ConfigError;
  if (fromVar instanceof ConfigError) {
    result = fromVar;
  } else {
    const nodes = fromVar ?? config.edge.shieldNodes;
    result = {
      ...compileConfig(config),
      edge: { ...config.edge, shieldNodes: nodes },
      shields: nodes.length === 0 ? null : rendezvousNodes(nodes),
    };
  }
  cached = { config, shieldVar, result };
  return result;
}
