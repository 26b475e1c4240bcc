/**
 * TTL rules, compiled once at startup and matched per request.
 *
 * First match wins, in configuration order, like nginx `location` blocks listed in order
 * or Varnish `if` chains: an operator reads the list top-down and the first rule that
 * fits is the one that applies. Put specific rules before general ones.
 *
 * Two phases, because some criteria are only known once the origin has answered:
 * - `matchRequestRule` runs before fetching (e.g. to bypass the cache) and only
 *   considers rules without response-side criteria (status, contentType);
 * - `matchResponseRule` runs on the origin's response and considers every rule.
 * A rule without response-side criteria therefore matches identically in both phases.
 */
import type { RuleConfig } from "../config/schema.ts";
import { globToRegExp } from "./glob.ts";

/** What a match returns: the rule as configured and its position in `rules`. */
export interface RuleMatch {
  readonly index: number;
  readonly rule: RuleConfig;
}

interface CompiledRule {
  readonly match: RuleMatch;
  readonly paths: readonly RegExp[] | null;
  readonly methods: ReadonlySet<string> | null;
  /** Exact statuses, and a bit per status class (bit 2 for "2xx", …). */
  readonly statuses: ReadonlySet<number> | null;
  readonly statusClasses: number;
  /** Lowercase "type/subtype" to match exactly, and "type/" prefixes for "type/*". */
  readonly types: ReadonlySet<string> | null;
  readonly typePrefixes: readonly string[];
  readonly responseSide: boolean;
}

export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
}

export interface RequestFacts {
  readonly method: string;
  /** The normalised request path (core/key/normalise-url.ts), without the query. */
  readonly path: string;
}

export interface ResponseFacts extends RequestFacts {
  readonly status: number;
  /** The response's Content-Type field value, parameters and all; null when absent. */
  readonly contentType: string | null | undefined;
}

function compileRule(rule: RuleConfig, index: number): CompiledRule {
  const m = rule.match;
  const globs = m.path === undefined ? null : typeof m.path === "string" ? [m.path] : m.path;
  const statusSet = new Set<number>();
  let statusClasses = 0;
  for (const s of m.status ?? []) {
    if (typeof s === "number") statusSet.add(s);
    else statusClasses |= 1 << Number(s[0]);
  }
  const typeSet = new Set<string>();
  const typePrefixes: string[] = [];
  for (const t of m.contentType ?? []) {
    const lower = t.toLowerCase();
    if (lower.endsWith("/*")) typePrefixes.push(lower.slice(0, -1));
    else typeSet.add(lower);
  }
  const statuses = statusSet.size > 0 ? statusSet : null;
  const types = typeSet.size > 0 ? typeSet : null;
  return {
    match: Object.freeze({ index, rule }),
    paths: globs === null ? null : globs.map((g) => globToRegExp(g)),
    methods: m.methods === undefined ? null : new Set(m.methods),
    statuses,
    statusClasses,
    types,
    typePrefixes,
    responseSide: m.status !== undefined || m.contentType !== undefined,
  };
}

/** Compile validated rules (CdnConfig["rules"]) once. */
export function compileRules(rules: readonly RuleConfig[]): CompiledRules {
  return { rules: rules.map(compileRule) };
}

function requestMatches(r: CompiledRule, facts: RequestFacts): boolean {
  if (r.methods !== null && !r.methods.has(facts.method)) return false;
  if (r.paths !== null) {
    let any = false;
    for (const re of r.paths) {
      if (re.test(facts.path)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

/** `text/HTML; charset=utf-8` → `text/html`; "" when absent. */
function mediaType(contentType: string | null | undefined): string {
  if (contentType == null) return "";
  const semi = contentType.indexOf(";");
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function responseMatches(r: CompiledRule, facts: ResponseFacts): boolean {
  if (!requestMatches(r, facts)) return false;
  if (r.statuses !== null || r.statusClasses !== 0) {
    const cls = Math.floor(facts.status / 100);
    const byClass = cls >= 1 && cls <= 5 && (r.statusClasses & (1 << cls)) !== 0;
    if (!byClass && !(r.statuses?.has(facts.status) ?? false)) return false;
  }
  if (r.types !== null || r.typePrefixes.length > 0) {
    // A response without Content-Type matches no contentType criterion: we cannot know
    // what it is, and RFC 9110 §8.3 lets a recipient only guess.
    const type = mediaType(facts.contentType);
    if (type === "") return false;
    if (!(r.types?.has(type) ?? false) && !r.typePrefixes.some((p) => type.startsWith(p))) {
      return false;
    }
  }
  return true;
}

/**
 * Before fetching: the first rule whose request-side criteria (path, methods) match
 * and that has no response-side criteria. Undefined when none does.
 */
export function matchRequestRule(
  compiled: CompiledRules,
  facts: RequestFacts,
): RuleMatch | undefined {
  for (const r of compiled.rules) {
    if (!r.responseSide && requestMatches(r, facts)) return r.match;
  }
  return undefined;
}

/** After the response: the first rule all of whose criteria match. Undefined when none does. */
export function matchResponseRule(
  compiled: CompiledRules,
  facts: ResponseFacts,
): RuleMatch | undefined {
  for (const r of compiled.rules) {
    if (responseMatches(r, facts)) return r.match;
  }
  return undefined;
}
