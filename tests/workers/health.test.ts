import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../workers/index.ts";

const ctx = (): ExecutionContext =>
  ({
    waitUntil: () => {},
    passThroughOnException: () => {},
    props: {},
  }) as unknown as ExecutionContext;

describe("the Worker validates its configuration", () => {
  it("answers health with the configured origins (wrangler.toml's CDN_CONFIG)", async () => {
    const res = await exports.default.fetch("http://edge.test/__edge/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", origins: ["demo"], shieldNodes: [] });
  });

  it("refuses to serve with a bad config and names the bad field", async () => {
    const env = {
      CDN_CONFIG: JSON.stringify({ origins: [{ name: "x", url: "ftp://o", hosts: ["a"] }] }),
    };
    const res = await worker.fetch(new Request("http://edge.test/__edge/health"), env, ctx());
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: string; issues: { path: string }[] };
    expect(body.error).toBe("config_invalid");
    expect(body.issues.map((i) => i.path)).toContain("origins[0].url");
  });

  it("refuses to serve when CDN_CONFIG is not JSON", async () => {
    const res = await worker.fetch(
      new Request("http://edge.test/anything"),
      { CDN_CONFIG: "{oops" },
      ctx(),
    );
    expect(res.status).toBe(500);
    expect(((await res.json()) as { message: string }).message).toContain("CDN_CONFIG");
  });
});
