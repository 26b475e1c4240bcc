/**
 * With EDGE_SHIELD_SECRET set, every request the Worker sends to a shield node carries a
 * CDN-Edge-Signature that the shield's own check (core/auth/edge-signature.ts) accepts
 * for exactly what the node received: its method, its raw target and X-Forwarded-Host.
 * A client's copy of the field never passes, and the shield's admin paths stay 404 at
 * the edge whatever is set.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  EDGE_SIGNATURE_FIELD,
  edgeSigningKey,
  type SignatureVerdict,
  verifyEdgeSignature,
} from "../../core/auth/edge-signature.ts";
import {
  cdnConfig,
  type Logged,
  receivedAll,
  SHIELDS,
  script,
  scriptAll,
  testEdge,
  uniquePath,
} from "./support/edge.ts";

const SECRET = "edge-shield-secret-0123456789abcdef";
const SIGNING = { EDGE_SHIELD_SECRET: SECRET };
const WINDOW = { maxAgeSeconds: 60, maxSkewSeconds: 10 };
const OK = { headers: { "cache-control": "max-age=60" }, body: "ok" } as const;

/** The shield's verdict on a request a fake node logged, at the real time. */
async function verdict(logged: Logged, secret = SECRET): Promise<SignatureVerdict> {
  return verifyEdgeSignature(
    await edgeSigningKey(secret),
    logged.headers[EDGE_SIGNATURE_FIELD],
    {
      method: logged.method,
      target: logged.url,
      forwardedHost: logged.headers["x-forwarded-host"] ?? null,
    },
    Math.floor(Date.now() / 1000),
    WINDOW,
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the Worker's requests to shields, with EDGE_SHIELD_SECRET", () => {
  it("carry a signature the shield accepts, over the target and host the node received", async () => {
    const edge = testEdge(cdnConfig(), SIGNING);
    const path = uniquePath();
    await scriptAll(path, OK);
    expect((await edge.send(`https://Edge.Test${path}?b=2&a=1&utm_source=x`)).text).toBe("ok");
    const [logged] = await receivedAll(path);
    expect(logged!.url).toBe(`${path}?a=1&b=2`);
    expect(logged!.headers[EDGE_SIGNATURE_FIELD]).toMatch(/^t=\d+, sig=[A-Za-z0-9_-]{43}$/);
    expect(await verdict(logged!)).toBe("ok");
    // The same field for another request, host or secret is refused.
    expect(await verdict({ ...logged!, url: `${path}?a=1` })).toBe("bad");
    expect(await verdict({ ...logged!, method: "POST" })).toBe("bad");
    const otherHost = { ...logged!.headers, "x-forwarded-host": "other.test" };
    expect(await verdict({ ...logged!, headers: otherHost })).toBe("bad");
    expect(await verdict(logged!, `${SECRET}-other`)).toBe("bad");
  });

  it("sign each attempt for its own node, base path included", async () => {
    const nodes = [SHIELDS[0]!, `${SHIELDS[1]!}/base`];
    const edge = testEdge(cdnConfig({ edge: { shieldNodes: nodes, maxAttempts: 2 } }), SIGNING);
    const path = uniquePath();
    await script(SHIELDS[0]!, path, { status: 502, body: "no shield answered" });
    await script(SHIELDS[1]!, `/base${path}`, { status: 502, body: "no shield answered" });
    await edge.send(path);
    const logged = [...(await receivedAll(path)), ...(await receivedAll(`/base${path}`))];
    expect(logged.map((entry) => entry.url).sort()).toEqual([path, `/base${path}`].sort());
    for (const entry of logged) expect(await verdict(entry), entry.url).toBe("ok");
  });

  it("sign what passes through uncached: other methods, with their body", async () => {
    const edge = testEdge(cdnConfig(), SIGNING);
    const path = uniquePath();
    await scriptAll(path, { status: 201, body: "created" });
    const res = await edge.send(path, { method: "POST", body: "order" });
    expect(res.status).toBe(201);
    const [logged] = await receivedAll(path);
    expect(logged!.method).toBe("POST");
    expect(await verdict(logged!)).toBe("ok");
  });

  it("replace a client's own signature field", async () => {
    const edge = testEdge(cdnConfig(), SIGNING);
    const path = uniquePath();
    await scriptAll(path, OK);
    const forged = "t=1, sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    await edge.send(path, { headers: { [EDGE_SIGNATURE_FIELD]: forged } });
    const [logged] = await receivedAll(path);
    expect(logged!.headers[EDGE_SIGNATURE_FIELD]).not.toBe(forged);
    expect(await verdict(logged!)).toBe("ok");
  });
});

describe("without EDGE_SHIELD_SECRET", () => {
  it("the Worker sends no signature, and drops a client's", async () => {
    const edge = testEdge(cdnConfig(), { EDGE_SHIELD_SECRET: " " });
    const path = uniquePath();
    await scriptAll(path, OK);
    await edge.send(path, { headers: { [EDGE_SIGNATURE_FIELD]: "t=1, sig=x" } });
    const [logged] = await receivedAll(path);
    expect(logged!.headers[EDGE_SIGNATURE_FIELD]).toBeUndefined();
  });
});

describe("requests to origins fetched directly (no shields)", () => {
  it("are not signed", async () => {
    const config = JSON.stringify({
      origins: [{ name: "site", url: SHIELDS[0], hosts: ["edge.test"] }],
    });
    const edge = testEdge(config, SIGNING);
    const path = uniquePath();
    await script(SHIELDS[0]!, path, OK);
    await edge.send(path);
    const [logged] = await receivedAll(path);
    expect(logged!.headers[EDGE_SIGNATURE_FIELD]).toBeUndefined();
  });
});

describe("a secret too short for a shield to accept", () => {
  it("stops the Worker, as a bad config does, naming it to the admin only", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const edge = testEdge(cdnConfig(), { EDGE_SHIELD_SECRET: "short", EDGE_ADMIN_TOKEN: "admin" });
    const res = await edge.send(uniquePath());
    expect(res.status).toBe(500);
    expect(res.text).not.toContain("EDGE_SHIELD_SECRET");
    const health = await edge.send("/__edge/health", {
      headers: { authorization: "Bearer admin" },
    });
    expect(health.text).toContain("EDGE_SHIELD_SECRET");
    expect(health.text).toContain("at least 32 characters");
  });
});

describe("the shield's admin paths through the edge", () => {
  it.each(["/__shield/health", "/__shield/metrics", "/__SHIELD/purge"])(
    "%s is 404 at the edge and reaches no shield, signing or not",
    async (target) => {
      await scriptAll(target.toLowerCase(), { body: "admin data" });
      const edge = testEdge(cdnConfig(), SIGNING);
      const res = await edge.send(target);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.text)).toMatchObject({ error: "not_found" });
      expect(await receivedAll(target.toLowerCase())).toEqual([]);
    },
  );
});
