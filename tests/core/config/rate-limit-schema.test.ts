/**
 * shield.rateLimits and the settings around rate limiting and negative caching, as the
 * config schema reads them: defaults filled in, and a bad rule refused at start-up with
 * its path rather than a limit that silently never applies.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigIssue, parseConfig } from "../../../core/config/index.ts";

const ORIGIN = { name: "main", url: "https://origin.example.com", hosts: ["www.example.com"] };

function issuesOf(rateLimits: unknown): readonly ConfigIssue[] {
  try {
    parseConfig({ origins: [ORIGIN], shield: { rateLimits } });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe("shield.rateLimits", () => {
  it("is empty by default; its table and the negative TTL have defaults", () => {
    const config = parseConfig({ origins: [ORIGIN] });
    expect(config.shield.rateLimits).toEqual([]);
    expect(config.shield.tables.rateLimitBytes).toBe(8 * 1024 * 1024);
    expect(config.cache.negativeTtl).toBe(60);
  });

  it("fills in a rule's defaults: every request, per client, only what reaches the origin", () => {
    const config = parseConfig({
      origins: [ORIGIN],
      shield: { rateLimits: [{ name: "api", ratePerSecond: 0.5, burst: 3 }] },
    });
    expect(config.shield.rateLimits).toEqual([
      { name: "api", match: {}, ratePerSecond: 0.5, burst: 3, by: "client", count: "origin" },
    ]);
  });

  it("accepts paths, methods, a global bucket and counting every request", () => {
    const rule = {
      name: "search.v2",
      match: { path: ["/search", "/api/**"], methods: ["GET", "POST"] },
      ratePerSecond: 100,
      burst: 200,
      by: "global",
      count: "all",
    };
    expect(issuesOf([rule])).toEqual([]);
  });

  it.each([
    [[{ ratePerSecond: 1, burst: 1 }], "rateLimits[0].name"],
    [[{ name: "a b", ratePerSecond: 1, burst: 1 }], "rateLimits[0].name"],
    [[{ name: '"q"', ratePerSecond: 1, burst: 1 }], "rateLimits[0].name"],
    [[{ name: "a", ratePerSecond: 0, burst: 1 }], "rateLimits[0].ratePerSecond"],
    [[{ name: "a", ratePerSecond: 1, burst: 0 }], "rateLimits[0].burst"],
    [[{ name: "a", ratePerSecond: 1, burst: 1.5 }], "rateLimits[0].burst"],
    [[{ name: "a", ratePerSecond: 1, burst: 1, by: "ip" }], "rateLimits[0].by"],
    [[{ name: "a", ratePerSecond: 1, burst: 1, count: "hits" }], "rateLimits[0].count"],
    [
      [{ name: "a", ratePerSecond: 1, burst: 1, match: { path: "api" } }],
      "rateLimits[0].match.path",
    ],
    [
      [{ name: "a", ratePerSecond: 1, burst: 1, match: { methods: ["get"] } }],
      "rateLimits[0].match.methods[0]",
    ],
    [[{ name: "a", ratePerSecond: 1, burst: 1, match: { host: "x" } }], "rateLimits[0].match.host"],
    [[{ name: "a", ratePerSecond: 1, burst: 1, per: "client" }], "rateLimits[0].per"],
    [
      [
        { name: "a", ratePerSecond: 1, burst: 1 },
        { name: "a", ratePerSecond: 2, burst: 2 },
      ],
      "rateLimits[1].name",
    ],
  ])("refuses %j at %s", (rules, path) => {
    const issues = issuesOf(rules);
    expect(issues.map((issue) => issue.path)).toContain(`shield.${path}`);
  });

  it("names the first rule of a duplicate", () => {
    const issues = issuesOf([
      { name: "a", ratePerSecond: 1, burst: 1 },
      { name: "a", ratePerSecond: 2, burst: 2 },
    ]);
    expect(issues).toEqual([
      { path: "shield.rateLimits[1].name", message: "duplicate name, also rateLimits[0]" },
    ]);
  });
});
