export {
  type CdnConfig,
  type CdnConfigInput,
  CdnConfigSchema,
  ConfigError,
  type ConfigIssue,
  DEFAULT_TRACKING_PARAMS,
  type ImagesConfig,
  type KeySpec,
  type OriginConfig,
  parseConfig,
  parseConfigJson,
  type RuleConfig,
} from "./schema.ts";
