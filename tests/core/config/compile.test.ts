import { describe, expect, it } from "vitest";
import { compileConfig, parseConfig } from "../../../core/config/index.ts";
import { policyOptions } from "../../../core/policy/index.ts";
import { routeOrigin } from "../../../core/routing/index.ts";
import { matchRequestRule, matchResponseRule } from "../../../core/rules/index.ts";

const config = parseConfig({
  origins: [
    { name: "shop", url: "http://127.0.0.1:9000", hosts: ["shop.example"] },
    { name: "api", url: "http://127.0.0.1:9001", hosts: ["shop.example"], pathPrefix: "/api" },
  ],
  bypassCookies: ["sid"],
  cache: { honorRequestNoCache: true, targetedCacheControl: ["Edge-Cache-Control"] },
  key: { cookies: ["currency"] },
  rules: [{ name: "img", match: { path: "/img/**" }, ttl: { floor: 60 } }],
});

describe("compileConfig: what both tiers derive from a config", () => {
  const compiled = compileConfig(config);

  it("keeps the config and its bypass cookies", () => {
    expect(compiled.config).toBe(config);
    expect(compiled.bypassCookies).toEqual(["sid"]);
  });

  it("derives the policy options", () => {
    expect(compiled.policy).toEqual(policyOptions(config));
    expect(compiled.policy.targetedCacheControl).toEqual(["edge-cache-control"]);
    expect(compiled.policy.keyedCookies).toEqual(["currency"]);
  });

  it("compiles the rules in order", () => {
    expect(matchRequestRule(compiled.rules, { method: "GET", path: "/img/a.jpg" })?.index).toBe(0);
    expect(
      matchResponseRule(compiled.rules, {
        method: "GET",
        path: "/x",
        status: 200,
        contentType: null,
      }),
    ).toBeUndefined();
  });

  it("routes by host and the longest path prefix", () => {
    expect(routeOrigin(compiled.origins, "shop.example", "/api/v1")?.name).toBe("api");
    expect(routeOrigin(compiled.origins, "shop.example", "/page")?.name).toBe("shop");
    expect(routeOrigin(compiled.origins, "other.example", "/page")).toBeNull();
  });
});
