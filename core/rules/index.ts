export { type GlobOptions, globError, globToRegExp } from "./glob.ts";
export {
  type CompiledRules,
  compileRules,
  matchRequestRule,
  matchResponseRule,
  type RequestFacts,
  type ResponseFacts,
  type RuleMatch,
} from "./ttl-rules.ts";
