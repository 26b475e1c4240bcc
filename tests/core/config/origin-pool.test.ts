/**
 * origins[].servers, .health and .breaker, and shield.origin.retryBudget: what a pool may
 * be, its defaults, and errors that name the field at fault, as a bad config fails at
 * startup.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, parseConfigJson } from "../../../core/config/index.ts";

const HOSTS = { name: "pool", hosts: ["www.example.com"] };

function issues(origin: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  try {
    parseConfig({ origins: [{ ...HOSTS, ...origin }], ...extra });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("origins[].servers", () => {
  it("a single url is a pool of one; url names the first server either way", () => {
    const single = parseConfig({ origins: [{ ...HOSTS, url: "https://o.example/base" }] });
    expect(single.origins[0]).toMatchObject({
      url: "https://o.example/base",
      servers: [{ url: "https://o.example/base", weight: 1 }],
      breaker: { failures: 5, ejectMs: 2_000, maxEjectMs: 60_000 },
    });
    expect(single.origins[0]?.health).toBeUndefined();
    expect(single.shield.origin.retryBudget).toBe(0.1);
    const pool = parseConfig({
      origins: [
        {
          ...HOSTS,
          servers: ["http://10.0.0.1:8080", { url: "http://10.0.0.2:8080", weight: 3 }],
          health: { path: "/healthz" },
        },
      ],
    });
    expect(pool.origins[0]).toMatchObject({
      url: "http://10.0.0.1:8080",
      servers: [
        { url: "http://10.0.0.1:8080", weight: 1 },
        { url: "http://10.0.0.2:8080", weight: 3 },
      ],
      health: {
        path: "/healthz",
        intervalMs: 5_000,
        timeoutMs: 2_000,
        unhealthyAfter: 3,
        healthyAfter: 2,
      },
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      "both url and servers",
      { url: "http://a.example", servers: ["http://b.example"] },
      "origins[0].servers: give either url or servers",
    ],
    ["neither", {}, "origins[0].url: url or servers is required"],
    ["no servers", { servers: [] }, "origins[0].servers: must list at least one server"],
    [
      "a server that is not a URL",
      { servers: ["http://a.example", "b.example"] },
      "origins[0].servers[1]: must be an absolute http:// or https:// URL",
    ],
    [
      "a scheme of its own",
      { servers: ["https://a.example", { url: "http://b.example" }] },
      "origins[0].servers[1].url: must use https like servers[0]: a pool is all plain or all TLS",
    ],
    [
      "a path of its own",
      { servers: ["http://a.example/app", "http://b.example/other"] },
      'origins[0].servers[1]: must have the path "/app" of servers[0]: every server serves the same resources',
    ],
    [
      "the same server twice",
      { servers: ["http://a.example:81", "http://a.example:81/"] },
      "origins[0].servers[1]: same server as servers[0]; give it a larger weight instead",
    ],
    [
      "a weight of 0",
      { servers: [{ url: "http://a.example", weight: 0 }] },
      "origins[0].servers[0].weight: must be ≥ 1",
    ],
    [
      "a misspelt key",
      { servers: [{ url: "http://a.example", wieght: 2 }] },
      "origins[0].servers[0].wieght: unknown key",
    ],
    [
      "neither URL nor object",
      { servers: [42] },
      'origins[0].servers[0]: must be a base URL or { "url": …, "weight": … }',
    ],
    [
      "a health check without a path",
      { url: "http://a.example", health: {} },
      "origins[0].health.path: Invalid input: expected string, received undefined",
    ],
    [
      "a health check longer than its interval",
      { url: "http://a.example", health: { path: "/h", intervalMs: 1_000, timeoutMs: 2_000 } },
      "origins[0].health.timeoutMs: must be ≤ intervalMs",
    ],
    [
      "a relative health path",
      { url: "http://a.example", health: { path: "healthz" } },
      'origins[0].health.path: must start with "/"',
    ],
    [
      "a first ejection longer than the longest",
      { url: "http://a.example", breaker: { ejectMs: 90_000 } },
      "origins[0].breaker.ejectMs: must be ≤ maxEjectMs",
    ],
    [
      "a negative failure count",
      { url: "http://a.example", breaker: { failures: -1 } },
      "origins[0].breaker.failures: must be ≥ 0",
    ],
  ])("%s fails, naming the field", (_what, origin, message) => {
    expect(issues(origin)).toContain(message);
  });

  it("a retry budget outside 0..1 fails, naming the field", () => {
    expect(
      issues({ url: "http://a.example" }, { shield: { origin: { retryBudget: 1.5 } } }),
    ).toEqual(["shield.origin.retryBudget: must be between 0 and 1"]);
  });

  it("the startup error names the file and every bad field", () => {
    const text = JSON.stringify({
      origins: [{ ...HOSTS, url: "http://a.example", servers: ["ftp://b.example"] }],
    });
    expect(() => parseConfigJson(text, "cdn.json")).toThrow(
      /Invalid CDN config \(cdn\.json\):\n {2}origins\[0\]\.servers\[0\]: must use http or https, not ftp\n {2}origins\[0\]\.servers: give either url or servers/,
    );
  });
});
