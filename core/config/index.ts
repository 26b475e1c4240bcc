export { type CompiledConfig, compileConfig } from "./compile.ts";
export {
  type CdnConfig,
  type CdnConfigInput,
  CdnConfigSchema,
  type CompressionConfig,
  ConfigError,
  type ConfigIssue,
  DEFAULT_TRACKING_PARAMS,
  type EdgeConfig,
  type ImagesConfig,
  type KeySpec,
  type OriginConfig,
  parseConfig,
  parseConfigJson,
  type RuleConfig,
  type ShieldConfig,
} from "./schema.ts";
