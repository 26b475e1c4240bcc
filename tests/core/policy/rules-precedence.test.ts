import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../core/config/index.ts";
import { planStorage, policyOptions } from "../../../core/policy/index.ts";
import { compileRules, matchRequestRule, matchResponseRule } from "../../../core/rules/index.ts";
import { HTTP_T0, request, response, T0 } from "../../helpers/http.ts";

// The README's example configuration, end to end: config → rules → storage plan.
const config = parseConfig({
  origins: [{ name: "www", url: "http://127.0.0.1:9000", hosts: ["www.example.com"] }],
  cache: { defaultStaleIfError: 600 },
  rules: [
    { name: "assets", match: { path: "/assets/**" }, ttl: { floor: 86400 } },
    { name: "api", match: { path: "/api/**", status: ["5xx"] }, bypass: true },
    { name: "errors", match: { status: [404, 410] }, ttl: { cap: 60 } },
    { name: "admin", match: { path: "/admin/**" }, bypass: true },
  ],
});
const rules = compileRules(config.rules);
const options = policyOptions(config);

function plan(path: string, status: number, headers: Record<string, string>) {
  const res = response(status, { date: HTTP_T0, ...headers });
  const match = matchResponseRule(rules, {
    method: "GET",
    path,
    status,
    contentType: res.headers.get("content-type"),
  });
  return planStorage({
    request: request(),
    response: res,
    requestTime: T0,
    responseTime: T0,
    rule: match?.rule,
    options,
  });
}

describe("TTL rules against origin headers (README: How freshness is decided)", () => {
  it("a floor rule raises a short origin max-age on /assets", () => {
    expect(plan("/assets/app.js", 200, { "cache-control": "max-age=60" })).toMatchObject({
      store: true,
      meta: { freshnessLifetime: 86400, lifetimeSource: "rule" },
    });
  });

  it("the origin's no-store still wins over the floor rule", () => {
    expect(plan("/assets/app.js", 200, { "cache-control": "no-store" })).toEqual({
      store: false,
      reason: "no-store",
    });
  });

  it("a rule matching on status bypasses only the statuses it names", () => {
    expect(plan("/api/items", 503, { "cache-control": "max-age=60" })).toEqual({
      store: false,
      reason: "rule-bypass",
    });
    expect(plan("/api/items", 200, { "cache-control": "max-age=60" })).toMatchObject({
      store: true,
    });
  });

  it("the first matching rule wins: /assets 404 gets the floor, not the errors cap", () => {
    expect(plan("/assets/missing.js", 404, { "cache-control": "max-age=10" })).toMatchObject({
      meta: { freshnessLifetime: 86400 },
    });
  });

  it("a cap rule limits a long 404 lifetime elsewhere", () => {
    expect(plan("/gone", 404, { "cache-control": "max-age=86400" })).toMatchObject({
      meta: { freshnessLifetime: 60 },
    });
  });

  it("without a matching rule the origin's headers decide, with the default stale-if-error", () => {
    const p = plan("/page", 200, { "cache-control": "max-age=30" });
    expect(p).toMatchObject({ store: true, meta: { freshnessLifetime: 30 } });
    if (p.store) expect(p.meta.staleIfErrorUntil).toBe(T0 + 630_000);
  });

  it("a bypass rule without response criteria is known before the request is forwarded", () => {
    expect(matchRequestRule(rules, { method: "GET", path: "/admin/users" })?.rule.name).toBe(
      "admin",
    );
    // /api's bypass depends on the status, so it cannot be decided before the response.
    expect(matchRequestRule(rules, { method: "GET", path: "/api/items" })).toBeUndefined();
  });
});
