/**
 * Purge reaching the edge: the tags every Cache API entry carries (so Cloudflare's purge
 * by tag finds entries stored under synthetic URLs), that clients never see them, and the
 * bound on how long an isolate's memory copy can outlive a purge (edge.isolateCacheMs).
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { buildCacheKey, normaliseUrl, storageName } from "../../core/key/index.ts";
import {
  edgeEntryTags,
  MAX_CACHE_TAG_CHARS,
  prefixPurgeTag,
  urlPurgeTag,
} from "../../core/purge/index.ts";
import {
  parseTransformPath,
  resolveTransform,
  transformVariantId,
  variantPath,
} from "../../core/variant/index.ts";
import { negotiateImageVariant } from "../../workers/request/image-request.ts";
import {
  cdnConfig,
  receivedAll,
  scriptAll,
  type TestEdge,
  testEdge,
  uniquePath,
} from "./support/edge.ts";

const CACHE_ORIGIN = "https://edge-cache.internal/";
const HOST = "https://edge.test";
const CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const SAFARI_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5";

/** The storage name the edge gives a GET of `target` with this Accept, as handle.ts keys it. */
function storageNameOf(config: string, target: string, accept: string | null = null): string {
  const { key, images } = parseConfig(JSON.parse(config));
  const url = normaliseUrl(`${HOST}${target}`, key);
  const image = negotiateImageVariant(url.path, accept, images);
  if (image.kind === "invalid") throw new Error(image.message);
  const path = image.kind === "image" ? image.keyPath : url.path;
  const variant = image.kind === "image" ? image.variant : null;
  return storageName(
    buildCacheKey({ url: { ...url, path }, headers: new Headers() }, key, variant),
  );
}

/** The Cache-Tag of the Cache API entry the edge stored for `target` (fails when none). */
async function storedTags(
  edge: TestEdge,
  config: string,
  target: string,
  accept: string | null = null,
): Promise<string[]> {
  const stored = await (await edge.cache()).match(
    CACHE_ORIGIN + storageNameOf(config, target, accept),
  );
  expect(stored, `an entry for ${target}`).toBeDefined();
  await stored!.body?.cancel();
  return (stored!.headers.get("cache-tag") ?? "").split(",");
}

describe("every Cache API entry carries purge tags", () => {
  it("the origin's tags first, then the URL tag, then the host and directory tags", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const path = uniquePath("doc.txt");
    await scriptAll(path, {
      headers: {
        "cache-control": "max-age=600",
        "surrogate-key": "product-1 catalogue",
        "cache-tag": "Shop,sale",
      },
      body: "doc",
    });
    await edge.send(`${path}?b=2&a=1`);
    const url = `${HOST}${path}?a=1&b=2`;
    const [, t, id] = path.split("/");
    expect(await storedTags(edge, config, `${path}?a=1&b=2`)).toEqual([
      "product-1",
      "catalogue",
      "Shop",
      "sale",
      urlPurgeTag(url),
      prefixPurgeTag(`${HOST}/`),
      prefixPurgeTag(`${HOST}/${t}/`),
      prefixPurgeTag(`${HOST}/${t}/${id}/`),
    ]);
    // What the entry carries is exactly what core says an entry for that URL carries.
    expect(await storedTags(edge, config, `${path}?a=1&b=2`)).toEqual(
      edgeEntryTags(url, ["product-1", "catalogue", "Shop", "sale"]),
    );
  });

  it("carries the URL and directory tags when the origin sends no tags", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=600" }, body: "x" });
    await edge.send(path);
    const tags = await storedTags(edge, config, path);
    expect(tags[0]).toBe(urlPurgeTag(`${HOST}${path}`));
    expect(tags).toContain(prefixPurgeTag(`${HOST}/t/`));
    expect(tags).toHaveLength(4);
  });

  it("keeps the field within Cloudflare's rules: valid tags only, within 16 KB, the origin's first", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const path = uniquePath();
    // Near the most an entry can take: the metadata (which holds the tags twice, as a
    // field and as a list) is bounded at 32 KiB (workers/cache/meta-codec.ts).
    const many = Array.from({ length: 30 }, (_, at) => `tag-${at}-${"x".repeat(440)}`);
    await scriptAll(path, {
      headers: { "cache-control": "max-age=600", "cache-tag": [...many, "has space"].join(",") },
      body: "x",
    });
    await edge.send(path);
    const tags = await storedTags(edge, config, path);
    expect(tags.join(",").length).toBeLessThanOrEqual(MAX_CACHE_TAG_CHARS);
    expect(tags.slice(0, 30)).toEqual(many);
    expect(tags).not.toContain("has space");
    expect(tags[30]).toBe(urlPurgeTag(`${HOST}${path}`));
  });

  it("gives every image format of one URL the same URL tag", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const path = uniquePath("photo.jpg");
    await scriptAll(path, { byAccept: true, headers: { "cache-control": "max-age=3600" } });
    await edge.send(path, { headers: { accept: CHROME } });
    await edge.send(path, { headers: { accept: SAFARI_15 } });
    await edge.send(path);
    const names = new Set([
      storageNameOf(config, path, CHROME),
      storageNameOf(config, path, SAFARI_15),
      storageNameOf(config, path, null),
    ]);
    expect(names.size).toBe(3);
    const avif = await storedTags(edge, config, path, CHROME);
    const webp = await storedTags(edge, config, path, SAFARI_15);
    const original = await storedTags(edge, config, path, null);
    expect(avif).toContain(urlPurgeTag(`${HOST}${path}`));
    expect(webp).toEqual(avif);
    expect(original).toEqual(avif);
  });

  it("tags a transform with its variant's URL (as the shield names it) and its source's", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const source = uniquePath("cat.jpg");
    const target = `/img/w=960,f=webp${source}`;
    await scriptAll(`/img/format=webp,width=960${source}`, {
      headers: { "cache-control": "max-age=3600" },
      body: "webp",
    });
    expect((await edge.send(target)).text).toBe("webp");
    const { images } = parseConfig(JSON.parse(config));
    const parsed = parseTransformPath(target, images.transformPrefix);
    if (!parsed.ok) throw new Error(parsed.message);
    const id = transformVariantId(resolveTransform(parsed.transform.options, images));
    const tags = await storedTags(edge, config, target);
    expect(tags.slice(0, 3)).toEqual([
      urlPurgeTag(`${HOST}${target}`),
      urlPurgeTag(`${HOST}${variantPath(images.transformPrefix, id, source)}`),
      urlPurgeTag(`${HOST}${source}`),
    ]);
    // The source's directory too: a prefix purge of its folder reaches the variants.
    expect(tags).toContain(
      prefixPurgeTag(`${HOST}${source.slice(0, source.lastIndexOf("/") + 1)}`),
    );
  });

  it("keeps the tags when a 304 renews the entry", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const path = uniquePath();
    const headers = { "cache-control": "max-age=10", etag: '"v1"', "surrogate-key": "kept" };
    await scriptAll(path, { headers, body: "v1" });
    await edge.send(path);
    edge.advance(20);
    await scriptAll(path, { status: 304, headers });
    const renewed = await edge.send(path);
    expect(renewed.headers.get("cache-status")).toMatch(/fwd=stale; fwd-status=304; stored/);
    const tags = await storedTags(edge, config, path);
    expect(tags.slice(0, 2)).toEqual(["kept", urlPurgeTag(`${HOST}${path}`)]);
  });
});

describe("the tags stay internal", () => {
  it.each([
    ["memory tier and Cache API", {}],
    ["Cache API only", { memory: { enabled: false } }],
  ])("a miss and a hit show clients only what the origin sent (%s)", async (_, edgePatch) => {
    const edge = testEdge(cdnConfig({ edge: edgePatch }));
    const tagged = uniquePath();
    await scriptAll(tagged, {
      headers: { "cache-control": "max-age=600", "cache-tag": "a,b", "surrogate-key": "c" },
      body: "x",
    });
    const plain = uniquePath();
    await scriptAll(plain, { headers: { "cache-control": "max-age=600" }, body: "y" });
    for (const step of ["miss", "hit"]) {
      const withTags = await edge.send(tagged);
      expect(withTags.headers.get("cache-tag"), step).toBe("a,b");
      expect(withTags.headers.get("surrogate-key"), step).toBe("c");
      const without = await edge.send(plain);
      expect(without.headers.get("cache-tag"), step).toBeNull();
      for (const res of [withTags, without]) {
        const all = [...res.headers.values()].join("\n");
        expect(all, step).not.toContain("edge-url:");
        expect(all, step).not.toContain("edge-dir:");
      }
    }
    expect(await receivedAll(tagged)).toHaveLength(1);
  });
});

describe("the isolate memory window (edge.isolateCacheMs)", () => {
  /** Store `path`, then take it out of the Cache API, as a purge by tag would. */
  async function storedThenPurged(edge: TestEdge, config: string, path: string): Promise<void> {
    await scriptAll(path, { headers: { "cache-control": "max-age=600" }, body: "hot" });
    await edge.send(path);
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(/^edge; hit/);
    const cache = await edge.cache();
    expect(await cache.delete(CACHE_ORIGIN + storageNameOf(config, path))).toBe(true);
  }

  it("defaults to 1000 ms", () => {
    expect(parseConfig(JSON.parse(cdnConfig())).edge.isolateCacheMs).toBe(1_000);
  });

  it("by default, an isolate serves a purged object from memory for under a second, never longer", async () => {
    const config = cdnConfig();
    const edge = testEdge(config);
    const path = uniquePath();
    await storedThenPurged(edge, config, path);
    edge.advance(0.999);
    const within = await edge.send(path);
    expect(within.headers.get("cache-status")).toMatch(/^edge; hit/);
    edge.advance(0.001);
    const after = await edge.send(path);
    expect(after.headers.get("cache-status")).toMatch(/^edge; fwd=uri-miss/);
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("a shorter window is a shorter bound", async () => {
    const config = cdnConfig({ edge: { isolateCacheMs: 200 } });
    const edge = testEdge(config);
    const path = uniquePath();
    await storedThenPurged(edge, config, path);
    edge.advance(0.2);
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(/^edge; fwd=uri-miss/);
  });

  it("an entry older than the window is read from the Cache API again, not memory", async () => {
    const config = cdnConfig({ edge: { isolateCacheMs: 500 } });
    const edge = testEdge(config);
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=600" }, body: "v1" });
    await edge.send(path);
    // Another isolate (or a purge and refill) replaces the Cache API entry meanwhile.
    const name = storageNameOf(config, path);
    const cache = await edge.cache();
    const stored = (await cache.match(CACHE_ORIGIN + name))!;
    const replaced = new Response("v2", { headers: stored.headers });
    await stored.body?.cancel();
    replaced.headers.set("content-length", "2");
    await cache.put(CACHE_ORIGIN + name, replaced);
    edge.advance(0.4);
    expect((await edge.send(path)).text).toBe("v1");
    edge.advance(0.1);
    expect((await edge.send(path)).text).toBe("v2");
  });

  it.each([
    [0, "must be ≥ 1"],
    [1.5, "must be a whole number of milliseconds"],
    [3_600_001, "must be ≤ 3600000"],
  ])("refuses isolateCacheMs %s", (value, message) => {
    expect(() => parseConfig(JSON.parse(cdnConfig({ edge: { isolateCacheMs: value } })))).toThrow(
      message,
    );
  });
});
