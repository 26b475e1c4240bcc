/**
 * What both tiers derive from a validated config before serving, in one place: the
 * policy's options, the compiled TTL rules, the origin router, and what bypasses the
 * cache. The shield builds it once at startup (origin-shield/context.ts), the edge once
 * per isolate and config text (workers/config/runtime.ts).
 */
import { policyOptions } from "../policy/options.ts";
import type { PolicyOptions } from "../policy/types.ts";
import { compileOrigins, type OriginRouter } from "../routing/origins.ts";
import { type CompiledRules, compileRules } from "../rules/ttl-rules.ts";
import type { CdnConfig } from "./schema.ts";

export interface CompiledConfig {
  /** The validated config it was compiled from. */
  readonly config: CdnConfig;
  /** core/policy options (policyOptions). */
  readonly policy: PolicyOptions;
  /** TTL rules, matched per request and per response (core/rules). */
  readonly rules: CompiledRules;
  /** Origins by host and path prefix (core/routing routeOrigin). */
  readonly origins: OriginRouter;
  /** Cookie names or "prefix*" patterns that bypass the cache (core/policy/disposition.ts). */
  readonly bypassCookies: readonly string[];
}

export function compileConfig(config: CdnConfig): CompiledConfig {
  return {
    config,
    policy: policyOptions(config),
    rules: compileRules(config.rules),
    origins: compileOrigins(config.origins),
    bypassCookies: config.bypassCookies,
  };
}
