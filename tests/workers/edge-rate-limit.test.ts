/**
 * The Workers rate-limiting binding at the edge (workers/request/rate-limit.ts), as
 * miniflare runs it (vitest.config.ts binds TEST_RATE_LIMITER: 3 requests a minute per
 * key): bound as EDGE_RATE_LIMITER, it counts every request of a client address, hits
 * included, and refuses the rest with 429 and Retry-After before any lookup or fetch.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const limiter = (env as unknown as { TEST_RATE_LIMITER: RateLimit }).TEST_RATE_LIMITER;

/** A client address no other test uses: the binding's counts outlive one test edge. */
function clientAddress(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `2001:db8::${[...bytes].map((b) => b.toString(16)).join(":")}`;
}

describe("EDGE_RATE_LIMITER", () => {
  it("refuses a client over the limit with 429 and Retry-After; others go on", async () => {
    const edge = testEdge(undefined, { EDGE_RATE_LIMITER: limiter });
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "page" });
    const client = { "cf-connecting-ip": clientAddress() };
    // Seven requests cross at most one minute boundary of the binding's window: at least
    // one of them finds the count used up, whenever the test runs.
    const statuses: number[] = [];
    let refused: Headers | undefined;
    for (let i = 0; i < 7; i++) {
      const res = await edge.send(path, { headers: client });
      statuses.push(res.status);
      if (res.status === 429) refused = res.headers;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses).toContain(429);
    expect(refused?.get("retry-after")).toBe("10");
    expect(refused?.get("cache-status")).toBe("edge; detail=rate_limited");
    expect(refused?.get("cache-control")).toBe("no-store");
    // Hits were counted too (one miss reached the shield), and another client is served.
    expect(await receivedAll(path)).toHaveLength(1);
    const other = await edge.send(path, { headers: { "cf-connecting-ip": clientAddress() } });
    expect(other.status).toBe(200);
    expect(edge.logs().filter((line) => line.status === 429).length).toBeGreaterThan(0);
  });

  it("is off when nothing is bound", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "page" });
    for (let i = 0; i < 6; i++) expect((await edge.send(path)).status).toBe(200);
  });
});
