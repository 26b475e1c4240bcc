import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { cdnConfig, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

/**
 * The Cache API entry carries the edge's metadata header and a Cache-Control made for
 * the Cache API (fresh + stale windows + keep); neither may ever reach a client.
 */
function expectClean(headers: Headers, what: string, originCacheControl: string | null): void {
  const names = [...headers.keys()];
  expect(
    names.filter((n) => n.startsWith("x-edge")),
    what,
  ).toEqual([]);
  expect(names, what).not.toContain("cf-cache-status");
  expect(headers.get("cache-control"), what).toBe(originCacheControl);
}

describe("the edge's internal metadata never reaches a client", () => {
  it.each([
    ["memory tier and Cache API", {}],
    ["Cache API only", { memory: { enabled: false } }],
  ])(
    "on a miss, hit, HEAD, 304, stale hit, revalidation and stale-if-error (%s)",
    async (_, edgePatch) => {
      const edge = testEdge(cdnConfig({ cache: { defaultStaleIfError: 600 }, edge: edgePatch }));
      const path = uniquePath("doc.txt");
      const cc = "max-age=10, stale-while-revalidate=10";
      const origin = { headers: { "cache-control": cc, etag: '"1"' }, body: "doc" };
      await scriptAll(path, origin);
      const seen: [string, Headers][] = [];
      // Each step names the Cache-Status member it must produce, so the sweep is known to
      // go through every state.
      const look = async (what: string, member: string, init?: RequestInit) => {
        const res = await edge.send(path, init);
        expect(res.headers.get("cache-status"), what).toMatch(new RegExp(`^edge; ${member}`));
        seen.push([what, res.headers]);
        return res;
      };
      await look("miss", "fwd=uri-miss; fwd-status=200; stored");
      await look("hit", "hit");
      await look("HEAD hit", "hit", { method: "HEAD" });
      const conditional = await look("304 hit", "hit", { headers: { "if-none-match": '"1"' } });
      expect(conditional.status).toBe(304);
      edge.advance(15);
      await look("stale-while-revalidate hit", "hit; ttl=-5; detail=stale-while-revalidate");
      edge.advance(30);
      await scriptAll(path, { status: 304, headers: { "cache-control": cc, etag: '"1"' } });
      await look("revalidated by 304", "fwd=stale; fwd-status=304; stored");
      edge.advance(30);
      await scriptAll(path, { status: 503 });
      expect((await look("stale-if-error", "fwd=stale; fwd-status=503")).text).toBe("doc");
      for (const [what, headers] of seen) expectClean(headers, what, cc);
    },
  );

  it("strips the metadata header even when an upstream sends one", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", "x-edge-meta": '{"v":1,"key":"forged"}' },
      body: "x",
    });
    expectClean((await edge.send(path)).headers, "miss", "max-age=60");
    expectClean((await edge.send(path)).headers, "hit", "max-age=60");
    expectClean((await edge.send(path, { method: "POST" })).headers, "bypass", "max-age=60");
  });
});

describe("the Worker as deployed (wrangler.toml)", () => {
  it("answers through its module export, with a Cache-Status member on errors too", async () => {
    const res = await exports.default.fetch("http://unconfigured.example/x");
    expect(res.status).toBe(421);
    expect(res.headers.get("cache-status")).toBe("edge; detail=unknown_host");
  });
});
