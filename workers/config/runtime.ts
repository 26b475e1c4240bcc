/**
 * Everything the edge derives from its configuration, computed once per isolate and
 * config text (Workers have no startup hook): policy options, compiled TTL rules, the
 * origin router and the shield nodes prepared for rendezvous hashing.
 */
import type { CdnConfig, EdgeConfig } from "../../core/config/index.ts";
import { ConfigError } from "../../core/config/index.ts";
import { type PolicyOptions, policyOptions } from "../../core/policy/index.ts";
import {
  compileOrigins,
  type OriginRouter,
  type RendezvousNodes,
  rendezvousNodes,
} from "../../core/routing/index.ts";
import { type CompiledRules, compileRules } from "../../core/rules/index.ts";
import { parseShieldNodesVar } from "./shield-nodes.ts";

export interface EdgeRuntime {
  readonly config: CdnConfig;
  readonly edge: EdgeConfig;
  readonly policy: PolicyOptions;
  readonly rules: CompiledRules;
  readonly origins: OriginRouter;
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
      config,
      edge: { ...config.edge, shieldNodes: nodes },
      policy: policyOptions(config),
      rules: compileRules(config.rules),
      origins: compileOrigins(config.origins),
      shields: nodes.length === 0 ? null : rendezvousNodes(nodes),
    };
  }
  cached = { config, shieldVar, result };
  return result;
}
