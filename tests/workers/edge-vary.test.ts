/**
 * Several stored responses per key (RFC 9111 §4.1): the edge keeps one variant per set of
 * normalised Vary values, at most MAX_VARIANTS per key, and never serves one to a request
 * whose values differ. Hostile inputs first: a client inventing values, a client with an
 * odd Accept-Encoding, responses that vary on credentials.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { buildCacheKey, normaliseUrl, storageName } from "../../core/key/index.ts";
import { urlPurgeTag } from "../../core/purge/index.ts";
import { MAX_VARIANTS, slotName } from "../../workers/cache/vary-record.ts";
import {
  cdnConfig,
  receivedAll,
  type Scripted,
  scriptAll,
  type TestEdge,
  testEdge,
  uniquePath,
} from "./support/edge.ts";

const CACHE_ORIGIN = "https://edge-cache.internal/";
const HOST = "https://edge.test";

const TIERS = [
  ["memory tier and Cache API", {}],
  ["Cache API only", { memory: { enabled: false } }],
] as const;

/** Responses numbered in the order the shield sends them: body "v1", "v2", … */
function numbered(count: number, headers: Record<string, string>): Scripted[] {
  return Array.from({ length: count }, (_, i) => ({ headers, body: `v${i + 1}` }));
}

const VARY_TENANT = { "cache-control": "max-age=600", vary: "X-Tenant" };

/** The storage name of a plain path's key, as handle.ts builds it. */
function primaryName(config: string, path: string): string {
  const { key } = parseConfig(JSON.parse(config));
  const url = normaliseUrl(`${HOST}${path}`, key);
  return storageName(buildCacheKey({ url, headers: new Headers() }, key, null));
}

/** What each of a key's variant slots holds in the Cache API: its Cache-Tag, or null. */
async function slots(edge: TestEdge, name: string): Promise<(string[] | null)[]> {
  const cache = await edge.cache();
  const out: (string[] | null)[] = [];
  for (let slot = 0; slot < MAX_VARIANTS + 4; slot++) {
    const res = await cache.match(CACHE_ORIGIN + slotName(name, slot));
    await res?.body?.cancel();
    out.push(res === undefined ? null : (res.headers.get("cache-tag") ?? "").split(","));
  }
  return out;
}

describe.each(TIERS)("%s", (_tiers, edgePatch) => {
  const config = cdnConfig({ edge: edgePatch });
  const tenant = (value: string) => ({ headers: { "x-tenant": value } });

  it("never serves a variant to a request whose normalised value differs (RFC 9111 §4.1)", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, ...numbered(4, VARY_TENANT));
    expect((await edge.send(path, tenant("a"))).text).toBe("v1");
    expect((await edge.send(path, tenant("b"))).text).toBe("v2");
    // Other values, absent included, are other variants: each goes to the shield.
    const upper = await edge.send(path, tenant("A"));
    expect(upper.text).toBe("v3");
    expect(upper.headers.get("cache-status")).toMatch(/edge; fwd=vary-miss/);
    expect((await edge.send(path)).text).toBe("v4");
    // And each stored variant answers only its own value; whitespace around it is not a value.
    expect((await edge.send(path, tenant(" a "))).text).toBe("v1");
    expect((await edge.send(path, tenant("b"))).text).toBe("v2");
    expect((await edge.send(path, tenant("A"))).text).toBe("v3");
    const hit = await edge.send(path);
    expect(hit.text).toBe("v4");
    expect(hit.headers.get("cache-status")).toMatch(/edge; hit/);
    expect(await receivedAll(path)).toHaveLength(4);
  });

  it("selects a variant by the value as core normalises it (Accept-Language spellings)", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(
      path,
      ...numbered(2, { "cache-control": "max-age=600", vary: "Accept-Language" }),
    );
    const lang = (value: string) => ({ headers: { "accept-language": value } });
    expect((await edge.send(path, lang("en-GB, fr;q=0.5"))).text).toBe("v1");
    const same = await edge.send(path, lang("en-gb,fr; q=0.50"));
    expect(same.text).toBe("v1");
    expect(same.headers.get("cache-status")).toMatch(/edge; hit/);
    expect((await edge.send(path, lang("fr, en-GB;q=0.5"))).text).toBe("v2");
  });

  it("a client inventing values keeps at most MAX_VARIANTS stored; the oldest is replaced", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    const count = 3 * MAX_VARIANTS;
    await scriptAll(path, ...numbered(count, VARY_TENANT));
    for (let i = 1; i <= count; i++) await edge.send(path, tenant(`t${i}`));
    const stored = await slots(edge, primaryName(config, path));
    expect(stored.filter((s) => s !== null)).toHaveLength(MAX_VARIANTS);
    expect(stored.slice(MAX_VARIANTS).every((s) => s === null)).toBe(true);
    // The last MAX_VARIANTS values are hits; the first one was replaced.
    const last = await edge.send(path, tenant(`t${count}`));
    expect(last.text).toBe(`v${count}`);
    expect(last.headers.get("cache-status")).toMatch(/edge; hit/);
    const first = await edge.send(path, tenant("t1"));
    expect(first.headers.get("cache-status")).toMatch(/edge; fwd=vary-miss/);
    expect(await receivedAll(path)).toHaveLength(count + 1);
  });

  it("varies on Cookie only as the sharing rule allows: explicit freshness stored per cookie", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, ...numbered(3, { "cache-control": "max-age=600", vary: "Cookie" }));
    const cookie = (value: string) => ({ headers: { cookie: `sid=${value}` } });
    expect((await edge.send(path, cookie("alice"))).text).toBe("v1");
    expect((await edge.send(path, cookie("bob"))).text).toBe("v2");
    expect((await edge.send(path)).text).toBe("v3");
    expect((await edge.send(path, cookie("alice"))).text).toBe("v1");
    expect((await edge.send(path, cookie("bob"))).text).toBe("v2");
    expect(await receivedAll(path)).toHaveLength(3);
  });

  it("does not store a heuristically fresh page fetched with a cookie, Vary: Cookie or not", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    const old = new Date(Date.now() - 86_400_000).toUTCString();
    await scriptAll(path, ...numbered(2, { "last-modified": old, vary: "Cookie" }));
    const alice = { headers: { cookie: "sid=alice" } };
    expect((await edge.send(path, alice)).text).toBe("v1");
    const again = await edge.send(path, alice);
    expect(again.text).toBe("v2");
    expect(again.headers.get("cache-status")).not.toMatch(/edge; hit/);
  });

  it("does not share a response varying on Authorization unless it is public (RFC 9111 §3.5)", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(
      path,
      ...numbered(2, { "cache-control": "max-age=600", vary: "Authorization" }),
    );
    const auth = { headers: { authorization: "Bearer one" } };
    expect((await edge.send(path, auth)).text).toBe("v1");
    expect((await edge.send(path, auth)).text).toBe("v2");
  });

  it("never stores Vary: *", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, ...numbered(2, { "cache-control": "max-age=600", vary: "*" }));
    expect((await edge.send(path)).text).toBe("v1");
    expect((await edge.send(path)).text).toBe("v2");
  });

  it("an origin that changes its Vary starts the key's variants afresh", async () => {
    const edge = testEdge(config);
    const path = uniquePath();
    const byRegion = { ...VARY_TENANT, vary: "X-Region" };
    await scriptAll(
      path,
      { headers: VARY_TENANT, body: "v1" },
      { headers: byRegion, body: "v2" },
      { headers: byRegion, body: "v3" },
    );
    const as = (t: string, region: string) => ({ headers: { "x-tenant": t, "x-region": region } });
    expect((await edge.send(path, as("a", "eu"))).text).toBe("v1");
    // Another tenant: the shield now varies on the region alone.
    expect((await edge.send(path, as("b", "eu"))).text).toBe("v2");
    expect((await edge.send(path, as("a", "us"))).text).toBe("v3");
    // Tenant a in eu now gets the region's variant: the tenant no longer selects.
    expect((await edge.send(path, as("a", "eu"))).text).toBe("v2");
    expect(await receivedAll(path)).toHaveLength(3);
  });
});

describe("purge and invalidation reach every variant", () => {
  it("every variant entry carries the URL's purge tag", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, ...numbered(3, { ...VARY_TENANT, "surrogate-key": "tenants" }));
    for (const t of ["a", "b", "c"]) await edge.send(path, { headers: { "x-tenant": t } });
    const stored = (await slots(edge, primaryName(config, path))).filter((s) => s !== null);
    expect(stored).toHaveLength(3);
    for (const tags of stored) {
      expect(tags).toContain(urlPurgeTag(`${HOST}${path}`));
      expect(tags).toContain("tenants");
    }
    // The record the key's name holds carries them too, so a purge takes it as well.
    const record = await (await edge.cache()).match(CACHE_ORIGIN + primaryName(config, path));
    await record?.body?.cancel();
    expect(record?.headers.get("cache-tag")?.split(",")).toContain(urlPurgeTag(`${HOST}${path}`));
  });

  it("a successful POST invalidates every stored variant of its URL (RFC 9111 §4.4)", async () => {
    const edge = testEdge(cdnConfig({ edge: { memory: { enabled: false } } }));
    const path = uniquePath();
    await scriptAll(path, ...numbered(5, VARY_TENANT));
    await edge.send(path, { headers: { "x-tenant": "a" } });
    await edge.send(path, { headers: { "x-tenant": "b" } });
    expect((await edge.send(path, { method: "POST", body: "x" })).status).toBe(200);
    for (const t of ["a", "b"]) {
      const after = await edge.send(path, { headers: { "x-tenant": t } });
      expect(after.text).not.toBe(t === "a" ? "v1" : "v2");
      expect(after.headers.get("cache-status")).not.toMatch(/edge; hit/);
    }
  });
});
