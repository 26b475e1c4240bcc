/**
 * shield.edgeAuth: with a secret, the shield answers only requests the edge signed
 * (CDN-Edge-Signature, core/auth/edge-signature.ts); everything else gets 403 before it
 * is routed, looked up or fetched. Health stays open, metrics need the signature or the
 * purge token, purge keeps its token.
 */
import { describe, expect, it } from "vitest";
import {
  EDGE_SIGNATURE_FIELD,
  edgeSigningKey,
  signEdgeRequest,
} from "../../core/auth/edge-signature.ts";
import { parseCli } from "../../origin-shield/cli.ts";
import { EdgeGate } from "../../origin-shield/request/edge-auth.ts";
import type { TestShield } from "../helpers/shield.ts";
import { harness } from "./support.ts";

const h = harness();
const SECRET = "edge-shield-secret-0123456789abcdef";
const TOKEN = "purge-token-0123456789";
const WITH_SECRET = { shield: { edgeAuth: { secret: SECRET }, purgeToken: TOKEN } };

interface Signed {
  /** Sign for this method, target or host instead of the request's own. */
  readonly method?: string;
  readonly target?: string;
  readonly host?: string | null;
  /** Seconds added to the shield's clock for the signature's time. */
  readonly skew?: number;
  readonly secret?: string;
}

/**
 * The headers of a request as the edge would send it for `path` on example.com, signed
 * as `as` says.
 */
async function edgeHeaders(
  t: TestShield,
  path: string,
  as: Signed = {},
  method = "GET",
): Promise<Record<string, string>> {
  const key = await edgeSigningKey(as.secret ?? SECRET);
  const time = Math.floor(t.now() / 1000) + (as.skew ?? 0);
  const host = as.host === undefined ? "example.com" : as.host;
  const request = { method: as.method ?? method, target: as.target ?? path, forwardedHost: host };
  // Sent with the host the request is for, whatever was signed.
  return {
    [EDGE_SIGNATURE_FIELD]: await signEdgeRequest(key, request, time),
    "x-forwarded-host": "example.com",
  };
}

async function expectRefused(res: Response, code: string): Promise<void> {
  expect(res.status).toBe(403);
  expect(await res.json()).toMatchObject({ error: code });
  expect(res.headers.get("cache-status")).toBe(`shield; detail=${code}`);
}

describe("a shield with an edge secret", () => {
  it("serves a request the edge signed", async () => {
    const { origin, t } = await h.start(undefined, WITH_SECRET);
    const res = await t.request("/a", { headers: await edgeHeaders(t, "/a") });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
    expect(origin.count()).toBe(1);
    // The signature vouches for one hop: the origin never sees it.
    expect(origin.requests[0]?.headers[EDGE_SIGNATURE_FIELD]).toBeUndefined();
  });

  it("refuses an unsigned request with 403 edge_signature_required, fetching nothing", async () => {
    const { origin, t } = await h.start(undefined, WITH_SECRET);
    await expectRefused(await t.request("/a"), "edge_signature_required");
    expect(origin.count()).toBe(0);
  });

  it("does not route by X-Forwarded-Host on an unsigned request", async () => {
    const { origin, t } = await h.start(undefined, WITH_SECRET);
    const res = await t.request("/a", {
      host: "unknown.example",
      headers: { "x-forwarded-host": "example.com", "x-forwarded-for": "203.0.113.9" },
    });
    await expectRefused(res, "edge_signature_required");
    expect(origin.count()).toBe(0);
  });

  it.each([
    ["older than maxAgeSeconds", -61],
    ["dated beyond maxSkewSeconds ahead", 11],
  ])("refuses a signature %s with 403 edge_signature_expired", async (_what, skew) => {
    const { origin, t } = await h.start(undefined, WITH_SECRET);
    const res = await t.request("/a", { headers: await edgeHeaders(t, "/a", { skew }) });
    await expectRefused(res, "edge_signature_expired");
    expect(origin.count()).toBe(0);
  });

  it("accepts a signature at either end of its window", async () => {
    const { t } = await h.start(undefined, WITH_SECRET);
    for (const skew of [-60, 10]) {
      const res = await t.request("/a", { headers: await edgeHeaders(t, "/a", { skew }) });
      expect(res.status, String(skew)).toBe(200);
    }
  });

  it("accepts a replay within the window, and refuses it once the window is over", async () => {
    const { origin, t } = await h.start(undefined, WITH_SECRET);
    const headers = await edgeHeaders(t, "/a");
    expect((await t.request("/a", { headers })).status).toBe(200);
    t.advance(30_000);
    expect((await t.request("/a", { headers })).status).toBe(200);
    t.advance(31_000);
    await expectRefused(await t.request("/a", { headers }), "edge_signature_expired");
    expect(origin.count()).toBe(1);
  });

  it.each<[string, Signed, string?]>([
    ["made with another secret", { secret: `${SECRET}-other` }],
    ["made for another target", { target: "/b" }],
    ["made for another query", { target: "/a?x=1" }],
    ["made for another method", { method: "HEAD" }],
    ["made for another X-Forwarded-Host", { host: "other.example" }],
    ["made without X-Forwarded-Host", { host: null }],
  ])("refuses a signature %s with 403 bad_edge_signature", async (_what, as) => {
    const { origin, t } = await h.start(undefined, WITH_SECRET);
    const res = await t.request("/a", { headers: await edgeHeaders(t, "/a", as) });
    await expectRefused(res, "bad_edge_signature");
    expect(origin.count()).toBe(0);
  });

  it("refuses a signed request whose X-Forwarded-Host was changed on the way", async () => {
    const { origin, t } = await h.start(undefined, {
      ...WITH_SECRET,
      origins: [
        { name: "one", url: "http://127.0.0.1:9", hosts: ["example.com"] },
        { name: "two", url: "http://127.0.0.1:9", hosts: ["two.example"] },
      ],
    });
    const headers = { ...(await edgeHeaders(t, "/a")), "x-forwarded-host": "two.example" };
    await expectRefused(await t.request("/a", { headers }), "bad_edge_signature");
    expect(origin.count()).toBe(0);
  });

  it("refuses a malformed or repeated signature with 403 bad_edge_signature", async () => {
    const { t } = await h.start(undefined, WITH_SECRET);
    const signed = await edgeHeaders(t, "/a");
    const value = signed[EDGE_SIGNATURE_FIELD] as string;
    for (const bad of ["t=1, sig=x", value.replace("t=", "T="), `${value}, ${value}`]) {
      const headers = { ...signed, [EDGE_SIGNATURE_FIELD]: bad };
      await expectRefused(await t.request("/a", { headers }), "bad_edge_signature");
    }
  });

  it("checks the raw target on the node:http path too", async () => {
    const { t } = await h.start(undefined, WITH_SECRET);
    const base = await t.listen();
    const target = "/a%20b/c?q=1&r=%2F";
    const signed = await fetch(`${base}${target}`, { headers: await edgeHeaders(t, target) });
    expect(signed.status).toBe(200);
    const other = await fetch(`${base}/a%20b/c?q=1&r=/`, { headers: await edgeHeaders(t, target) });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: "bad_edge_signature" });
    const unsigned = await fetch(`${base}/__shield/health`);
    expect(unsigned.status).toBe(200);
  });

  it("believes X-Forwarded-For (from a trusted proxy) only on a signed request", async () => {
    const { origin, t } = await h.start(undefined, {
      shield: { ...WITH_SECRET.shield, trustedProxies: ["127.0.0.1"] },
    });
    const base = await t.listen();
    const claimed = { "x-forwarded-for": "203.0.113.9" };
    const unsigned = await fetch(`${base}/a`, { headers: { host: "example.com", ...claimed } });
    expect(unsigned.status).toBe(403);
    const signed = await fetch(`${base}/a`, {
      headers: { host: "example.com", ...claimed, ...(await edgeHeaders(t, "/a")) },
    });
    expect(signed.status).toBe(200);
    expect(origin.requests.map((seen) => seen.headers["x-forwarded-for"])).toEqual([
      "203.0.113.9, 127.0.0.1",
    ]);
  });

  it("leaves /__shield/health open to a load balancer's check", async () => {
    const { t } = await h.start(undefined, WITH_SECRET);
    const res = await t.request("/__shield/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  it("shows /__shield/metrics to the purge token or the edge's signature, to no one else", async () => {
    const { t } = await h.start(undefined, WITH_SECRET);
    const refused = await t.request("/__shield/metrics");
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: "unauthorized" });
    const wrong = await t.request("/__shield/metrics", {
      headers: { authorization: "Bearer not-the-token-at-all" },
    });
    expect(wrong.status).toBe(401);
    const byToken = await t.request("/__shield/metrics", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(byToken.status).toBe(200);
    expect(await byToken.text()).toContain("shield_table_bytes");
    const signed = await t.request("/__shield/metrics", {
      headers: await edgeHeaders(t, "/__shield/metrics"),
    });
    expect(signed.status).toBe(200);
  });

  it("keeps purge behind its bearer token, signature or not", async () => {
    const { t } = await h.start(undefined, WITH_SECRET);
    const body = JSON.stringify({ urls: ["http://example.com/a"] });
    const post = { method: "POST", body, headers: { "content-type": "application/json" } };
    const signedOnly = await t.request("/__shield/purge", {
      ...post,
      headers: { ...post.headers, ...(await edgeHeaders(t, "/__shield/purge", {}, "POST")) },
    });
    expect(signedOnly.status).toBe(401);
    const byToken = await t.request("/__shield/purge", {
      ...post,
      headers: { ...post.headers, authorization: `Bearer ${TOKEN}` },
    });
    expect(byToken.status).toBe(200);
  });
});

describe("a shield without an edge secret", () => {
  it("serves unsigned requests and ignores a signature field", async () => {
    const { origin, t } = await h.start();
    expect((await t.request("/a")).status).toBe(200);
    const headers = { [EDGE_SIGNATURE_FIELD]: "t=1, sig=forged" };
    expect((await t.request("/b", { headers })).status).toBe(200);
    expect(origin.requests[1]?.headers[EDGE_SIGNATURE_FIELD]).toBeUndefined();
    expect((await t.request("/__shield/metrics")).status).toBe(200);
  });
});

describe("the gate's memo of verified requests", () => {
  it("answers a request it verified already at once, without computing the HMAC again", async () => {
    let now = Date.UTC(2026, 0, 1);
    const gate = new EdgeGate(
      { secret: SECRET, maxAgeSeconds: 60, maxSkewSeconds: 10 },
      () => now,
      "shield",
    );
    const key = await edgeSigningKey(SECRET);
    const time = Math.floor(now / 1000);
    const signature = await signEdgeRequest(
      key,
      { method: "GET", target: "/a", forwardedHost: "example.com" },
      time,
    );
    const request = {
      method: "GET",
      target: "/a",
      headers: { [EDGE_SIGNATURE_FIELD]: signature, "x-forwarded-host": "example.com" },
      remoteAddress: "127.0.0.1",
      secure: false,
      body: null,
    };
    const first = gate.check(request);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBeNull();
    expect(gate.check(request)).toBeNull();
    expect(gate.bytes).toBeGreaterThan(0);
    // Another target under the same field is not the request that was verified.
    expect(gate.check({ ...request, target: "/b" })).toBeInstanceOf(Promise);
    now += 61_000;
    const late = gate.check(request);
    expect(late).not.toBeInstanceOf(Promise);
    expect(late).toMatchObject({ status: 403 });
  });
});

describe("SHIELD_EDGE_SECRET", () => {
  it("sets shield.edgeAuth.secret, keeping the file's window", () => {
    const options = parseCli(["--origin", "http://127.0.0.1:9"], { SHIELD_EDGE_SECRET: SECRET });
    if (options === "help") throw new Error("unexpected help");
    expect(options.config.shield.edgeAuth).toEqual({
      secret: SECRET,
      maxAgeSeconds: 60,
      maxSkewSeconds: 10,
    });
    const unset = parseCli(["--origin", "http://127.0.0.1:9"], { SHIELD_EDGE_SECRET: "" });
    if (unset === "help") throw new Error("unexpected help");
    expect(unset.config.shield.edgeAuth).toBeUndefined();
  });

  it("must be at least 32 characters", () => {
    expect(() =>
      parseCli(["--origin", "http://127.0.0.1:9"], { SHIELD_EDGE_SECRET: "short" }),
    ).toThrow(/shield\.edgeAuth\.secret: must be at least 32 characters/);
  });
});
