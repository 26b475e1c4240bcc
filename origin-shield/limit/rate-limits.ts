/**
 * Rate limits at the shield (`shield.rateLimits`), checked once a request is routed and
 * before anything is looked up or fetched.
 *
 * What a token pays for. The shield is the last line before the origin, and a hit costs
 * it a few microseconds, so by default (`count: "origin"`) only what reaches the origin
 * takes a token: a miss, a revalidation, a pass-through, a transform made. An answer
 * given at once (a memory hit, a refusal) never reached the origin and costs nothing but
 * the check; one that is still on its way is charged before any other request can run
 * (so a burst of concurrent misses cannot all slip through before the first answer),
 * and refunded once its outcome shows the origin was not asked (a hit from disk or
 * Redis, a collapsed follower, a refusal). A client with no token left is still served what
 * the cache can answer on its own, as if it had sent `Cache-Control: only-if-cached`
 * (RFC 9111 §5.2.1.7); only a request that would need the origin gets 429. So the limit
 * bounds what one client (or, `by: "global"`, everyone) can make the origin do, and a
 * popular cached object is never refused. `count: "all"` counts every request, hits
 * included: a plain request rate per client, for when the shield itself is what needs
 * protecting.
 *
 * The client is the first address of the X-Forwarded-For chain this node vouches for
 * (http/client-address.ts: the edge's header, believed only from `shield.trustedProxies`),
 * else the connection's peer; an IPv6 client is counted by its /64 (client-key.ts).
 *
 * A refusal is 429 (RFC 6585 §4) with Retry-After (RFC 9110 §10.2.3), and RateLimit-Policy
 * and RateLimit as draft-ietf-httpapi-ratelimit-headers (-10) defines them: the policy
 * `"name";q=<quota>;w=<window>`, the service limit `"name";r=<remaining>;t=<seconds>`,
 * policy names as Structured Field Strings. A token bucket is not a quota per window, so
 * the policy states its long-run equivalent: the window is the time a drained bucket
 * takes to refill (at least a second), the quota what the rate grants in it. `t` is the
 * time until the next token, the same instant as Retry-After (§"Server Behavior").
 */
import type { RateLimitRule } from "../../core/config/rate-limit-schema.ts";
import type { BypassSettings, HeaderReader } from "../../core/policy/index.ts";
import { requestDisposition } from "../../core/policy/index.ts";
import { globToRegExp } from "../../core/rules/index.ts";
import type { Outcome } from "../observe/metrics.ts";
import { rejection } from "../rejection.ts";
import type { ShieldResponse } from "../respond.ts";
import type { RoutedRequest } from "../types.ts";
import { type Bucket, BucketTable, refill, secondsToToken } from "./buckets.ts";
import { clientKey } from "./client-key.ts";

interface Rule {
  readonly name: string;
  readonly paths: readonly RegExp[] | null;
  readonly methods: ReadonlySet<string> | null;
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly perClient: boolean;
  readonly originOnly: boolean;
  /** Prefix of this rule's bucket keys in the shared table. */
  readonly prefix: string;
  /** The bucket of a `by: "global"` rule. */
  readonly global: Bucket;
  /** The RateLimit-Policy field value, written once. */
  readonly policy: string;
}

/** Outcomes of requests the origin was asked for: these keep their token. */
const FORWARDED: ReadonlySet<Outcome> = new Set<Outcome>([
  "miss",
  "revalidated",
  "pass",
  "error",
  "stale_error",
]);

/** A token taken for this request, and the rule it was taken for (to give it back). */
type Taken = readonly [Bucket, Rule];

export type Serve = (routed: RoutedRequest) => ShieldResponse | Promise<ShieldResponse>;

export interface LimitDeps {
  /** This node's Cache-Status name. */
  readonly name: string;
  /** What bypasses the cache (core requestDisposition): such a request always needs the origin. */
  readonly bypass: BypassSettings;
  readonly now: () => number;
  /** Count one refusal by rule name (shield_rate_limited_total). */
  readonly limited: (rule: string) => void;
}

export class RateLimits {
  readonly #rules: readonly Rule[];
  readonly #deps: LimitDeps;
  readonly table: BucketTable;
  /** True when any rule is configured: without one a request is not looked at. */
  readonly active: boolean;

  constructor(rules: readonly RateLimitRule[], tableBytes: number, deps: LimitDeps) {
    this.#rules = rules.map(compile);
    this.#deps = deps;
    this.table = new BucketTable(tableBytes);
    this.active = rules.length > 0;
  }

  /** Serve `routed` with `serve` if every rule it matches allows it, else answer 429. */
  admit(routed: RoutedRequest, serve: Serve): ShieldResponse | Promise<ShieldResponse> {
    const now = this.#deps.now();
    const method = routed.method;
    const path = routed.url.path;
    let client: string | null = null;
    /** Tokens of `count: "all"` rules, taken now. */
    let taken: Taken[] | null = null;
    /** Buckets of `count: "origin"` rules that have a token, taken only if it is needed. */
    let owed: Taken[] | null = null;
    let short: Taken | null = null;
    for (const rule of this.#rules) {
      if (!matches(rule, method, path)) continue;
      let bucket = rule.global;
      if (rule.perClient) {
        client ??= clientKey(routed.forwardedFor);
        bucket = this.table.get(rule.prefix + client, rule, now);
      } else refill(bucket, rule, now);
      if (bucket.tokens < 1) {
        if (rule.originOnly) short ??= [bucket, rule];
        else {
          refund(taken);
          return this.#refuse(rule, bucket);
        }
      } else if (rule.originOnly) {
        owed ??= [];
        owed.push([bucket, rule]);
      } else {
        bucket.tokens -= 1;
        taken ??= [];
        taken.push([bucket, rule]);
      }
    }
    if (short !== null) return this.#cacheOnly(routed, serve, short, taken);
    const answer = serve(routed);
    if (owed === null || !(answer instanceof Promise)) return answer;
    // Still on its way, so it may reach the origin: charged now, before any other request
    // runs, and given back if it turns out not to have.
    for (const [bucket] of owed) bucket.tokens -= 1;
    const charged = owed;
    return answer.then((r) => {
      if (!FORWARDED.has(r.outcome)) refund(charged);
      return r;
    });
  }

  /**
   * A request an origin-only rule has no token for: served if the cache can answer it
   * alone, refused if it would need the origin. A refused request keeps no token at all.
   */
  #cacheOnly(
    routed: RoutedRequest,
    serve: Serve,
    [bucket, rule]: Taken,
    taken: Taken[] | null,
  ): ShieldResponse | Promise<ShieldResponse> {
    const refuse = () => {
      refund(taken);
      return this.#refuse(rule, bucket);
    };
    const bypass = this.#deps.bypass;
    const method = routed.method;
    const cookie = bypass.bypassCookies.length > 0 ? routed.reader.get("cookie") : null;
    const disposition = requestDisposition({ method, path: routed.url.path, cookie }, bypass);
    if (disposition.kind === "pass") return refuse();
    const answer = serve(cacheOnly(routed));
    const settle = (r: ShieldResponse) => (needsOrigin(r) ? refuse() : r);
    return answer instanceof Promise ? answer.then(settle) : settle(answer);
  }

  #refuse(rule: Rule, bucket: Bucket): ShieldResponse {
    this.#deps.limited(rule.name);
    const wait = String(secondsToToken(bucket, rule));
    const remaining = Math.max(0, Math.floor(bucket.tokens));
    return rejection(
      this.#deps.name,
      {
        status: 429,
        code: "rate_limited",
        message: "too many requests; retry after Retry-After seconds",
      },
      [
        "retry-after",
        wait,
        "ratelimit-policy",
        rule.policy,
        "ratelimit",
        `"${rule.name}";r=${remaining};t=${wait}`,
      ],
    );
  }
}

function compile(config: RateLimitRule): Rule {
  const path = config.match.path;
  const globs = path === undefined ? null : typeof path === "string" ? [path] : path;
  const { ratePerSecond, burst, name } = config;
  const window = Math.max(1, Math.ceil(burst / ratePerSecond));
  const quota = Math.max(1, Math.floor(ratePerSecond * window));
  return {
    name,
    paths: globs === null ? null : globs.map((glob) => globToRegExp(glob)),
    methods: config.match.methods === undefined ? null : new Set(config.match.methods),
    ratePerSecond,
    burst,
    perClient: config.by === "client",
    originOnly: config.count === "origin",
    prefix: `${name}\n`,
    // Full from the start: refilling it from time 0 tops it up to `burst` on first use.
    global: { tokens: burst, at: 0 },
    policy: `"${name}";q=${quota};w=${window}`,
  };
}

function matches(rule: Rule, method: string, path: string): boolean {
  if (rule.methods !== null && !rule.methods.has(method)) return false;
  if (rule.paths === null) return true;
  for (const re of rule.paths) if (re.test(path)) return true;
  return false;
}

/** Give back the tokens taken for a request that did not, after all, use them. */
function refund(taken: readonly Taken[] | null): void {
  if (taken === null) return;
  for (const [bucket, rule] of taken) bucket.tokens = Math.min(rule.burst, bucket.tokens + 1);
}

/** The cache-only answer could not be given without the origin (decide: unsatisfiable). */
function needsOrigin(answer: ShieldResponse): boolean {
  return answer.status === 504 && answer.outcome === "rejected";
}

/**
 * The request as if it said `Cache-Control: only-if-cached` (RFC 9111 §5.2.1.7), which
 * core's decide always obeys: a stored response that may be served is, anything else is
 * the 504 that needsOrigin recognises. Nothing else the request carries changes.
 */
function cacheOnly(routed: RoutedRequest): RoutedRequest {
  return { ...routed, reader: new OnlyIfCached(routed.reader) };
}

class OnlyIfCached implements HeaderReader {
  readonly #inner: HeaderReader;

  constructor(inner: HeaderReader) {
    this.#inner = inner;
  }

  get(name: string): string | null {
    return name.toLowerCase() === "cache-control" ? "only-if-cached" : this.#inner.get(name);
  }
}
