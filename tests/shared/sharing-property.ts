/**
 * The sharing rule as a property, run unchanged in Node (the shield's runtime,
 * tests/core/policy/sharing-property.test.ts) and in workerd (the edge's,
 * tests/workers/sharing-property.test.ts): over random combinations of request and
 * response header fields, TTL rules and configured stale windows, a response fetched
 * with credentials or an unkeyed cookie that was not explicitly shareable is never
 * served, fresh or stale, and never handed to a collapsed follower, for a request that
 * does not carry the same credentials; and a copy that was never fresh is never served
 * without revalidation to anyone.
 *
 * The oracle below is the rule as the README states it, written without the policy's
 * code: it may only be more permissive than the policy, never less.
 */
import fc from "fast-check";
import {
  DEFAULT_POLICY_OPTIONS,
  decide,
  followerMayShare,
  type PolicyOptions,
  planStorage,
  type RuleEffect,
} from "../../core/policy/index.ts";

const T0 = Date.UTC(2026, 0, 1);
const KEYED = ["currency"];

type Credentials = "none" | "cookie" | "keyed-cookie" | "authorization" | "both";

const credentials = fc.constantFrom<Credentials>(
  "none",
  "cookie",
  "keyed-cookie",
  "authorization",
  "both",
);

function requestHeaders(c: Credentials, who: string): Record<string, string> {
  switch (c) {
    case "none":
      return {};
    case "cookie":
      return { cookie: `session=${who}` };
    case "keyed-cookie":
      return { cookie: "currency=EUR" };
    case "authorization":
      return { authorization: `Bearer ${who}` };
    case "both":
      return { cookie: `session=${who}`, authorization: `Bearer ${who}` };
  }
}

const directive = fc.constantFrom(
  "max-age=0",
  "max-age=60",
  "s-maxage=0",
  "s-maxage=60",
  "public",
  "private",
  "no-store",
  "no-cache",
  "must-revalidate",
  "stale-while-revalidate=60",
  "stale-if-error=60",
  "immutable",
);

const caseArb = fc.record({
  leader: credentials,
  follower: credentials,
  status: fc.constantFrom(200, 203, 301, 404, 410, 429, 500, 503),
  cc: fc.uniqueArray(directive, { maxLength: 4 }),
  cdn: fc.constantFrom(null, "max-age=60", "max-age=0", "private", "no-store", "public"),
  expires: fc.constantFrom(null, "past", "future", "0"),
  lastModified: fc.boolean(),
  etag: fc.boolean(),
  setCookie: fc.boolean(),
  vary: fc.constantFrom(null, "Accept", "Cookie", "*"),
  rule: fc.constantFrom<RuleEffect | null>(
    null,
    { match: { path: "/p" }, ttl: { set: 60 } },
    { ttl: { floor: 60 } },
    { staleWhileRevalidate: 600, staleIfError: 600 },
  ),
  defaults: fc.constantFrom(0, 600),
  askStale: fc.constantFrom(null, "max-stale", "max-stale=3600", "max-stale, only-if-cached"),
  after: fc.integer({ min: 0, max: 7_200 }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function responseHeaders(c: Case): Record<string, string> {
  const h: Record<string, string> = { date: new Date(T0).toUTCString() };
  if (c.cc.length > 0) h["cache-control"] = c.cc.join(", ");
  if (c.cdn !== null) h["cdn-cache-control"] = c.cdn;
  if (c.expires === "past") h.expires = new Date(T0 - 3_600_000).toUTCString();
  if (c.expires === "future") h.expires = new Date(T0 + 3_600_000).toUTCString();
  if (c.expires === "0") h.expires = "0";
  if (c.lastModified) h["last-modified"] = new Date(T0 - 30 * 86_400_000).toUTCString();
  if (c.etag) h.etag = '"e"';
  if (c.setCookie) h["set-cookie"] = "session=new";
  if (c.vary !== null) h.vary = c.vary;
  return h;
}

/** The directives that apply: a valid CDN-Cache-Control replaces Cache-Control (RFC 9213). */
function applying(c: Case): string[] {
  return c.cdn !== null ? [c.cdn] : c.cc;
}

/** What the README promises may be shared with a client other than the one it was for. */
function explicitlyShareable(c: Case): boolean {
  const d = applying(c);
  const hasCookie = c.leader === "cookie" || c.leader === "both";
  const hasAuth = c.leader === "authorization" || c.leader === "both";
  if (
    hasAuth &&
    !d.some((x) => x === "public" || x.startsWith("s-maxage") || x === "must-revalidate")
  ) {
    return false;
  }
  if (hasCookie) {
    const explicitFresh =
      d.includes("max-age=60") ||
      d.includes("s-maxage=60") ||
      (c.cdn === null && c.expires === "future" && !d.some((x) => x.includes("max-age")));
    const ruleNamesPath = c.rule?.match?.path !== undefined;
    if (!d.includes("public") && !explicitFresh && !ruleNamesPath) return false;
  }
  return true;
}

function sameCredentials(a: Credentials, b: Credentials): boolean {
  return a === b && a !== "cookie" && a !== "both" && a !== "authorization";
}

/** One case: true when nothing was handed to a client it may not reach. */
export function sharingHolds(c: Case, trustCookies = false): boolean {
  const options: PolicyOptions = {
    ...DEFAULT_POLICY_OPTIONS,
    trustCookies,
    keyedCookies: KEYED,
    defaultStaleWhileRevalidate: c.defaults,
    defaultStaleIfError: c.defaults,
  };
  const plan = planStorage({
    request: { method: "GET", headers: new Headers(requestHeaders(c.leader, "alice")) },
    response: { status: c.status, headers: new Headers(responseHeaders(c)) },
    requestTime: T0,
    responseTime: T0,
    rule: c.rule ?? undefined,
    options,
  });
  if (!plan.store) return true;
  const d = applying(c);
  // Never stored whatever else the response says.
  if (c.setCookie || d.includes("private") || d.includes("no-store")) return false;
  const followerHeaders = requestHeaders(c.follower, "bob");
  if (c.askStale !== null) followerHeaders["cache-control"] = c.askStale;
  const follower = { method: "GET", headers: new Headers(followerHeaders) };
  const decision = decide(follower, plan.meta, T0 + c.after * 1000, options);
  const served =
    decision.kind === "fresh" ||
    decision.kind === "stale-allowed" ||
    decision.kind === "stale-while-revalidate";
  const handed = followerMayShare(plan, follower);
  if (!served && !handed) return true;
  // A copy that was never fresh is only ever served after a revalidation.
  if (plan.meta.freshUntil <= plan.meta.responseTime) return false;
  // Another client (not the leader's own credentials) gets only what was shareable.
  return sameCredentials(c.leader, c.follower) || explicitlyShareable(c);
}

/** Runs the property; throws fast-check's counterexample when it fails. */
export function checkSharingRule(numRuns: number): void {
  fc.assert(
    fc.property(caseArb, (c) => sharingHolds(c)),
    { numRuns },
  );
}

/**
 * The same property with `cache.trustCookies` on, the documented opt-out: it must find a
 * page fetched with a cookie that reaches another client. If it did not, the property
 * could not tell a policy that shares such pages from one that does not.
 */
export function leakFoundWithTrustedCookies(numRuns: number): boolean {
  return fc.check(
    fc.property(caseArb, (c) => sharingHolds(c, true)),
    { numRuns },
  ).failed;
}
