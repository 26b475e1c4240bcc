/**
 * The shield's admin endpoints (/__shield/health, /metrics, /purge) are for operators on
 * the internal network; a public Worker that forwarded them would hand every visitor the
 * shield's topology and metrics, and a way to try purge tokens. The edge's own namespace
 * (/__edge/) holds only the health endpoint. Every spelling a URL parser or a server
 * might read as one of these is refused at the edge, before anything is fetched.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { normaliseUrl } from "../../core/key/index.ts";
import { cdnConfig, receivedAll, scriptAll, testEdge } from "./support/edge.ts";

const config = parseConfig(JSON.parse(cdnConfig()));

/**
 * The path a fake shield would log a request for `target` under, had the edge forwarded
 * it: the edge sends the normalised path, and the fake node reads it with `new URL`.
 */
function loggedAs(target: string): string {
  const { path } = normaliseUrl(`https://edge.test${target}`, config.key);
  return new URL(path, "http://fake").pathname;
}

async function expectRefused(target: string, init?: RequestInit): Promise<void> {
  // Were it forwarded, a node would answer with this.
  await scriptAll(loggedAs(target), { body: "admin data" });
  const edge = testEdge();
  const res = await edge.send(target, init);
  expect(res.status).toBe(404);
  expect(JSON.parse(res.text)).toMatchObject({ error: "not_found" });
  expect(res.headers.get("cache-status")).toBe("edge; detail=not_found");
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(await receivedAll(loggedAs(target))).toEqual([]);
}

describe("the edge never forwards the shield's admin paths", () => {
  it.each([
    "/__shield/health",
    "/__shield/metrics",
    "/%5F%5Fshield/health",
    "/%5f%5fshield/health",
    "/__SHIELD/health",
    "/__Shield/Metrics",
    "/x/../__shield/health",
    "/x/%2e%2e/__shield/health",
    "/__shield",
    "/__shield/",
    "//__shield/health",
    "///__shield/metrics",
    "/__shield?x=1",
    "/__shield%2Fhealth",
    "/__shield;x/health",
  ])("GET %s → 404", async (target) => {
    await expectRefused(target);
  });

  it("POST /__shield/purge → 404", async () => {
    await expectRefused("/__shield/purge", {
      method: "POST",
      headers: { authorization: "Bearer guess", "content-type": "application/json" },
      body: JSON.stringify({ prefix: "/" }),
    });
  });

  it("on every host, configured or not", async () => {
    const edge = testEdge();
    const res = await edge.send("https://unknown.example/__shield/health");
    expect(res.status).toBe(404);
  });
});

describe("the edge's own namespace holds only /__edge/health", () => {
  it.each([
    ["GET", "/__edge/other"],
    ["GET", "/__edge"],
    ["GET", "/__edge/"],
    ["GET", "/__edge/health/x"],
    ["GET", "/__EDGE/health"],
    ["GET", "//__edge/health"],
    ["POST", "/__edge/health"],
    ["DELETE", "/__edge/health"],
  ])("%s %s → 404", async (method, target) => {
    await expectRefused(target, { method });
  });
});
