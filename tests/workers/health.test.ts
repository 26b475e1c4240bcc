import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../workers/index.ts";
import { cdnConfig, SHIELDS, testEdge } from "./support/edge.ts";

const TOKEN = "edge-admin-7f3a9c";
const ADMIN = { authorization: `Bearer ${TOKEN}` };
const SHORT = { status: "ok" };
const MISCONFIGURED = { error: "config_invalid", message: "the edge is misconfigured" };

const ctx = (): ExecutionContext =>
  ({
    waitUntil: () => {},
    passThroughOnException: () => {},
    props: {},
  }) as unknown as ExecutionContext;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("/__edge/health tells a visitor only that the edge is up", () => {
  it("answers the short body as deployed (wrangler.toml, no admin token set)", async () => {
    const res = await exports.default.fetch("http://edge.test/__edge/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(SHORT);
  });

  it("shows origins and shield nodes only to a request with the admin token", async () => {
    const edge = testEdge(cdnConfig(), { EDGE_ADMIN_TOKEN: TOKEN });
    const refused = [
      undefined,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      TOKEN,
      `Basic ${btoa(`admin:${TOKEN}`)}`,
      "Bearer",
    ];
    for (const authorization of refused) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const res = await edge.send("/__edge/health", { headers });
      expect(res.status, authorization).toBe(200);
      expect(JSON.parse(res.text), authorization).toEqual(SHORT);
    }
    for (const authorization of [`Bearer ${TOKEN}`, `bearer  ${TOKEN}`]) {
      const res = await edge.send("/__edge/health", { headers: { authorization } });
      expect(JSON.parse(res.text), authorization).toEqual({
        status: "ok",
        origins: ["site"],
        shieldNodes: [...SHIELDS],
      });
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("shows nothing more to anyone when no admin token is configured", async () => {
    const envs: Record<string, string>[] = [{}, { EDGE_ADMIN_TOKEN: "" }];
    for (const env of envs) {
      const edge = testEdge(cdnConfig(), env);
      for (const authorization of ["Bearer ", "Bearer undefined", `Bearer ${TOKEN}`]) {
        const res = await edge.send("/__edge/health", { headers: { authorization } });
        expect(JSON.parse(res.text), authorization).toEqual(SHORT);
      }
    }
  });
});

describe("a bad config is not shown to visitors", () => {
  /** A config that fails validation, different text each time (the log is per text). */
  const badConfig = () =>
    JSON.stringify({
      origins: [{ name: crypto.randomUUID(), url: "ftp://10.0.0.7/internal", hosts: ["a"] }],
    });

  it("answers every request with a bare 500 that is never stored", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const edge = testEdge(badConfig(), { EDGE_ADMIN_TOKEN: TOKEN });
    for (const target of ["/anything", "/__edge/health", "/images/a.jpg", "/__edge/other"]) {
      const res = await edge.send(target);
      expect(res.status, target).toBe(500);
      expect(JSON.parse(res.text), target).toEqual(MISCONFIGURED);
      expect(res.headers.get("cache-control"), target).toBe("no-store");
    }
  });

  it("logs the issues once per config text, not per request", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const logged = () =>
      errors.mock.calls.filter((args) => args.join(" ").includes("origins[0].url")).length;
    const first = testEdge(badConfig());
    for (let i = 0; i < 3; i++) await first.send("/anything");
    expect(logged()).toBe(1);
    expect(errors.mock.calls.flat().join(" ")).toContain("must use http or https");
    // Another bad config is another text to fix: logged too.
    await testEdge(badConfig()).send("/anything");
    expect(logged()).toBe(2);
  });

  it("shows the issues on /__edge/health to a request with the admin token", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const edge = testEdge(badConfig(), { EDGE_ADMIN_TOKEN: TOKEN });
    const res = await edge.send("/__edge/health", { headers: ADMIN });
    expect(res.status).toBe(500);
    const body = JSON.parse(res.text) as { error: string; issues: { path: string }[] };
    expect(body.error).toBe("config_invalid");
    expect(body.issues.map((i) => i.path)).toContain("origins[0].url");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("says CDN_CONFIG is not JSON only to the admin", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const env = { CDN_CONFIG: "{oops", EDGE_ADMIN_TOKEN: TOKEN };
    const visitor = await worker.fetch(new Request("http://edge.test/anything"), env, ctx());
    expect(visitor.status).toBe(500);
    expect(await visitor.json()).toEqual(MISCONFIGURED);
    const admin = await worker.fetch(
      new Request("http://edge.test/__edge/health", { headers: ADMIN }),
      env,
      ctx(),
    );
    expect(admin.status).toBe(500);
    expect(((await admin.json()) as { message: string }).message).toContain("CDN_CONFIG");
  });
});
