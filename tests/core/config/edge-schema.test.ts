import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../core/config/index.ts";

const base = { origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }] };

function issues(edge: unknown): string[] {
  try {
    parseConfig({ ...base, edge });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  return [];
}

describe("the edge section of the config", () => {
  it("defaults to fetching origins directly, 10 s per attempt, two attempts, named edge, 16 MiB in memory", () => {
    expect(parseConfig(base).edge).toEqual({
      shieldNodes: [],
      shieldTimeoutMs: 10_000,
      nodeBackoffMs: 1_000,
      nodeMaxBackoffMs: 30_000,
      maxAttempts: 2,
      cacheStatusName: "edge",
      maxStoreBytes: 32 * 1024 * 1024,
      memory: {
        enabled: true,
        maxBytes: 16 * 1024 * 1024,
        maxObjectBytes: 256 * 1024,
      },
      isolateCacheMs: 1000,
    });
  });

  it("writes shield nodes canonically, so one node is never two", () => {
    const { edge } = parseConfig({
      ...base,
      edge: { shieldNodes: ["HTTP://Shield-1:8080/", "https://s2.example/prefix/"] },
    });
    expect(edge.shieldNodes).toEqual(["http://shield-1:8080", "https://s2.example/prefix"]);
  });

  it.each([
    [{ shieldNodes: ["ftp://x"] }, "edge.shieldNodes[0]: must use http or https, not ftp"],
    [{ shieldNodes: ["http://a:1?x=1"] }, "edge.shieldNodes[0]: must not have a query or fragment"],
    [
      { shieldNodes: ["http://a:1", "http://a:1"] },
      'edge.shieldNodes[1]: duplicate shield node "http://a:1"',
    ],
    [{ shieldTimeoutMs: 0 }, "edge.shieldTimeoutMs: must be positive"],
    [{ firstByteTimeoutMs: 0 }, "edge.firstByteTimeoutMs: must be positive"],
    [
      { nodeBackoffMs: 5_000, nodeMaxBackoffMs: 1_000 },
      "edge.nodeBackoffMs: must be ≤ nodeMaxBackoffMs",
    ],
    [{ shieldTimeoutMs: 1.5 }, "edge.shieldTimeoutMs: must be a whole number of milliseconds"],
    [{ maxAttempts: 0 }, "edge.maxAttempts: must be ≥ 1"],
    [{ cacheStatusName: "my edge" }, "edge.cacheStatusName: must be a token"],
    [{ shields: [] }, "edge.shields: unknown key"],
    [{ memory: { maxBytes: 1e9 } }, "edge.memory.maxBytes: must be ≤ 67108864"],
    [{ memory: { maxBytes: 0 } }, "edge.memory.maxBytes: must be positive"],
    [{ maxStoreBytes: 0 }, "edge.maxStoreBytes: must be positive"],
    [{ isolateCacheMs: 0 }, "edge.isolateCacheMs: must be ≥ 1"],
  ])("rejects %j, naming the field", (edge, message) => {
    expect(issues(edge).join("\n")).toContain(message);
  });
});
