import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Two projects: `node` runs core, shield, image pipeline and end-to-end tests under Node;
// `workers` runs inside workerd (the real Workers runtime) through the vitest workers pool.
export default defineConfig({
  test: {
    reporters: ["default", "./tests/helpers/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "node",
          environment: "node",
          // A full run keeps both cores of a CI machine busy (sharp, workerd, child
          // processes): a test that takes 1 s alone can take several. Speed is checked by
          // the benchmarks in bench/, not by test timeouts.
          testTimeout: 20_000,
          include: ["tests/**/*.test.ts"],
          exclude: ["tests/workers/**", "node_modules/**"],
        },
      },
      {
        plugins: [
          cloudflareTest({
            main: "./workers/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            // A Workers rate-limiting binding as miniflare runs it, for the test that hands
            // it to the edge as EDGE_RATE_LIMITER (wrangler.toml binds none in dev).
            miniflare: { ratelimits: { TEST_RATE_LIMITER: { simple: { limit: 3, period: 60 } } } },
          }),
        ],
        test: {
          name: "workers",
          include: ["tests/workers/**/*.test.ts"],
          // Fake shield nodes on loopback (real sockets), started in Node for the tests
          // that run inside workerd; their URLs arrive through inject().
          globalSetup: ["./tests/helpers/fake-shield.ts"],
        },
      },
    ],
  },
});
