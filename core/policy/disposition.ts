/**
 * Whether a request may use the cache at all, asked before any lookup, at both tiers:
 * methods other than GET and HEAD go forward as they are (RFC 9111 §4: only those are
 * answered from storage here), and so do requests carrying a configured bypass cookie or
 * for a path a TTL rule marks `bypass`. Nothing they get back is stored.
 *
 * Authorization is not a reason to pass: a stored response explicitly shareable with it
 * (RFC 9111 §3.5) may still answer such a request, so it is looked up like any other and
 * decide() (sharing.ts selectsFor) forwards it when nothing stored may answer it.
 */
import { hasAnyCookie } from "../key/cookies.ts";
import { type CompiledRules, matchRequestRule } from "../rules/ttl-rules.ts";

/**
 * The Cache-Status `detail` of a bypassed request (RFC 9211 §2.8), the same at both
 * tiers: `cookie` (a configured bypass cookie was sent) or `rule` (a rule marks the path
 * bypass). Fixed tokens: a rule's name is configuration, which is the operator's to see
 * and not every visitor's (workers/config/from-env.ts), and it changes when renamed.
 */
export type BypassDetail = "cookie" | "rule";

export type Disposition =
  /** Look it up, and store what comes back per the policy. */
  | { readonly kind: "cache" }
  /** Forward it as it is (body included); store nothing. */
  | { readonly kind: "pass"; readonly fwd: "method"; readonly detail?: undefined }
  | { readonly kind: "pass"; readonly fwd: "bypass"; readonly detail: BypassDetail };

export interface DispositionRequest {
  readonly method: string;
  /** The normalised path TTL rules match (core/rules RequestFacts). */
  readonly path: string;
  /** The Cookie field's value; null when the request has none. */
  readonly cookie: string | null;
}

/** What bypasses the cache, from the config (core/config/compile.ts CompiledConfig). */
export interface BypassSettings {
  /** Cookie names, or "prefix*" patterns, whose presence bypasses the cache. */
  readonly bypassCookies: readonly string[];
  readonly rules: CompiledRules;
}

const CACHE: Disposition = { kind: "cache" };
const METHOD: Disposition = { kind: "pass", fwd: "method" };
const BY_COOKIE: Disposition = { kind: "pass", fwd: "bypass", detail: "cookie" };
const BY_RULE: Disposition = { kind: "pass", fwd: "bypass", detail: "rule" };

/** The method first, then bypass cookies, then the first rule that matches the request. */
export function requestDisposition(
  request: DispositionRequest,
  settings: BypassSettings,
): Disposition {
  const method = request.method;
  if (method !== "GET" && method !== "HEAD") return METHOD;
  if (hasAnyCookie(request.cookie, settings.bypassCookies)) return BY_COOKIE;
  const rule = matchRequestRule(settings.rules, { method, path: request.path });
  return rule?.rule.bypass === true ? BY_RULE : CACHE;
}
