import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type KeySpec, parseConfig } from "../../core/config/index.ts";
import { buildCacheKey, normaliseUrl } from "../../core/key/index.ts";
import {
  cloudflarePrefix,
  coveringPrefixTag,
  edgeEntryTags,
  isCloudflareTag,
  MAX_CACHE_TAG_CHARS,
  MAX_CACHE_TAGS,
  MAX_TAG_CHARS,
  PREFIX_TAG_DEPTH,
  prefixPurgeTag,
  urlPurgeTag,
} from "../../core/purge/index.ts";

const key: KeySpec = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["shop.example"] }],
}).key;

const normalised = (href: string): string => normaliseUrl(href, key).url;

/** What Cloudflare takes in Cache-Tag: the field within 16 KB and 1,000 tags, each valid. */
function expectWithinCloudflareLimits(tags: readonly string[]): void {
  for (const tag of tags) expect(isCloudflareTag(tag), tag.slice(0, 80)).toBe(true);
  expect(tags.join(",").length).toBeLessThanOrEqual(MAX_CACHE_TAG_CHARS);
  expect(tags.length).toBeLessThanOrEqual(MAX_CACHE_TAGS);
}

describe("the URL tag", () => {
  it.each([
    ["query order", "https://shop.example/p?b=2&a=1", "https://shop.example/p?a=1&b=2"],
    [
      "tracking parameters",
      "https://shop.example/p?utm_source=mail&a=1",
      "https://shop.example/p?a=1",
    ],
    ["host case and default port", "https://SHOP.example:443/p", "https://shop.example/p"],
    ["dot segments", "https://shop.example/a/../p", "https://shop.example/p"],
    ["percent-encoding case", "https://shop.example/%7e/p", "https://shop.example/~/p"],
    ["a fragment", "https://shop.example/p#top", "https://shop.example/p"],
  ])("is shared by spellings that normalise alike (%s)", (_, one, other) => {
    expect(urlPurgeTag(normalised(one))).toBe(urlPurgeTag(normalised(other)));
  });

  it("is shared by every variant of a URL: the variant is in the key, not the URL", () => {
    const url = normaliseUrl("https://shop.example/img/cat.jpg", key);
    const keys = [
      buildCacheKey({ url, headers: new Headers({ accept: "image/avif" }) }, key, "avif"),
      buildCacheKey({ url, headers: new Headers({ accept: "image/webp" }) }, key, "webp"),
      buildCacheKey({ url, headers: new Headers({ "accept-encoding": "br" }) }, key, null),
    ];
    expect(new Set(keys).size).toBe(3);
    // Each variant's entry is tagged from the same normalised URL.
    const tags = keys.map(() => edgeEntryTags(url.url, []));
    expect(tags[1]).toEqual(tags[0]);
    expect(tags[2]).toEqual(tags[0]);
    expect(tags[0]).toContain(urlPurgeTag(url.url));
  });

  it.each([
    ["another path", "https://shop.example/q"],
    ["a query", "https://shop.example/p?a=1"],
    ["another host", "https://www.shop.example/p"],
    ["another scheme", "http://shop.example/p"],
    ["another port", "https://shop.example:8443/p"],
    ["a trailing slash", "https://shop.example/p/"],
    ["another case in the path", "https://shop.example/P"],
  ])("differs for a different URL (%s)", (_, other) => {
    expect(urlPurgeTag(normalised(other))).not.toBe(urlPurgeTag("https://shop.example/p"));
  });

  it("is a short, fixed-length, lowercase name", () => {
    expect(urlPurgeTag("https://shop.example/p")).toMatch(/^edge-url:[0-9a-f]{32}$/);
  });
});

describe("directory tags", () => {
  const entry = edgeEntryTags("https://shop.example/a/b/c.jpg?v=1", []);

  it.each([
    ["the host", "https://shop.example/", true],
    ["a directory", "https://shop.example/a/", true],
    ["the entry's own directory", "https://shop.example/a/b/", true],
    [
      "the other scheme (as Cloudflare's prefixes, the scheme is not part)",
      "http://shop.example/a/",
      true,
    ],
    ["a sibling directory", "https://shop.example/b/", false],
    ["a directory of another host", "https://www.shop.example/a/", false],
    ["a deeper directory", "https://shop.example/a/b/c/", false],
  ])("an entry carries the tag of %s: %s", (_, prefix, carried) => {
    const tag = prefixPurgeTag(prefix);
    expect(tag).not.toBeNull();
    expect(entry.includes(tag!)).toBe(carried);
  });

  it("an entry whose path ends in / carries its own directory's tag", () => {
    expect(edgeEntryTags("https://shop.example/a/b/", [])).toContain(
      prefixPurgeTag("https://shop.example/a/b/"),
    );
  });

  it.each([
    ["a prefix that ends inside a name", "https://shop.example/a/b"],
    ["a prefix with a query", "https://shop.example/a/?x=1"],
    ["a prefix ending in ?", "https://shop.example/a/?"],
    ["a prefix with no path", "https://shop.example"],
    ["a prefix that ends inside the host", "https://shop.exa"],
    ["no scheme", "shop.example/a/"],
    ["no host", "https:///a/"],
    ["not a URL", "tag-like"],
    ["deeper than the tagged depth", `https://shop.example/${"d/".repeat(PREFIX_TAG_DEPTH + 1)}`],
  ])("there is no tag for %s", (_, prefix) => {
    expect(prefixPurgeTag(prefix)).toBeNull();
  });

  it(`goes ${PREFIX_TAG_DEPTH} directories deep, no further`, () => {
    const deep = `https://shop.example/${"d/".repeat(12)}x`;
    const tags = edgeEntryTags(deep, []);
    // The URL tag, the host, then one per directory down to the bound.
    expect(tags).toHaveLength(1 + 1 + PREFIX_TAG_DEPTH);
    const atBound = `https://shop.example/${"d/".repeat(PREFIX_TAG_DEPTH)}`;
    expect(tags).toContain(prefixPurgeTag(atBound));
  });

  it.each([
    ["a prefix on a boundary covers itself", "https://shop.example/a/", "https://shop.example/a/"],
    [
      "a partial name widens to its directory",
      "https://shop.example/a/bo",
      "https://shop.example/a/",
    ],
    [
      "a query widens to the path's directory",
      "https://shop.example/a/b?x",
      "https://shop.example/a/",
    ],
    [
      "a name at the root widens to the host",
      "https://shop.example/index",
      "https://shop.example/",
    ],
    [
      "a deep prefix widens to the tagged depth",
      `https://shop.example/${"d/".repeat(11)}`,
      `https://shop.example/${"d/".repeat(PREFIX_TAG_DEPTH)}`,
    ],
  ])("coveringPrefixTag: %s", (_, prefix, directory) => {
    expect(coveringPrefixTag(prefix)).toBe(prefixPurgeTag(directory));
  });

  it("coveringPrefixTag names no tag when even the host is uncertain", () => {
    expect(coveringPrefixTag("https://shop.exa")).toBeNull();
    expect(coveringPrefixTag("nothing")).toBeNull();
  });
});

describe("Cloudflare's limits", () => {
  it("keeps the origin's tags first, then the URL tag, then the directories", () => {
    const url = "https://shop.example/a/p";
    expect(edgeEntryTags(url, ["product-1", "catalogue"])).toEqual([
      "product-1",
      "catalogue",
      urlPurgeTag(url),
      prefixPurgeTag("https://shop.example/"),
      prefixPurgeTag("https://shop.example/a/"),
    ]);
  });

  it("tags more URLs when a purge of each must reach the entry, without repeating directories", () => {
    const own = "https://shop.example/img/w=100/cat.jpg";
    const source = "https://shop.example/cat.jpg";
    const tags = edgeEntryTags([own, source], []);
    expect(tags.slice(0, 2)).toEqual([urlPurgeTag(own), urlPurgeTag(source)]);
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags.filter((tag) => tag === prefixPurgeTag("https://shop.example/"))).toHaveLength(1);
  });

  it.each([
    ["a comma", "a,b"],
    ["a space", "a b"],
    ["a tab", "a\tb"],
    ["non-ASCII", "café"],
    ["a control character", "a\u0000b"],
    ["DEL", "a\u007f"],
    ["empty", ""],
    ["over 1,024 characters", "x".repeat(MAX_TAG_CHARS + 1)],
  ])("drops an origin tag Cloudflare would not take (%s)", (_, bad) => {
    const tags = edgeEntryTags("https://shop.example/p", ["ok", bad, "fine"]);
    expect(tags.slice(0, 2)).toEqual(["ok", "fine"]);
    expectWithinCloudflareLimits(tags);
  });

  it("keeps a tag of exactly 1,024 printable characters", () => {
    const longest = "~".repeat(MAX_TAG_CHARS);
    expect(edgeEntryTags("https://shop.example/p", [longest])[0]).toBe(longest);
  });

  it("drops repeats ignoring case, as Cloudflare compares tags", () => {
    expect(
      edgeEntryTags("https://shop.example/p", ["Sale", "sale", "SALE", "other"]).slice(0, 2),
    ).toEqual(["Sale", "other"]);
  });

  it("stays within 16 KB however many tags the origin sends; what does not fit is left out, the same each time", () => {
    const origin = Array.from({ length: 40 }, (_, at) => `t${at}-${"x".repeat(1000)}`);
    const tags = edgeEntryTags("https://shop.example/a/p", origin);
    expectWithinCloudflareLimits(tags);
    // Fifteen tags of about 1,000 characters fit in 16,000 with their commas; a sixteenth does not.
    expect(tags.slice(0, 15)).toEqual(origin.slice(0, 15));
    expect(tags).not.toContain(origin[15]);
    expect(edgeEntryTags("https://shop.example/a/p", origin)).toEqual(tags);
    // The edge's own tags take what room is left.
    expect(tags).toContain(urlPurgeTag("https://shop.example/a/p"));
  });

  it("leaves out its own tags, not the origin's, when the origin's fill the field", () => {
    const origin = Array.from({ length: 16 }, (_, at) => `${at}`.padEnd(999, "y"));
    const tags = edgeEntryTags("https://shop.example/p", origin);
    expect(tags).toEqual(origin);
    expect(tags.join(",").length).toBe(16 * 999 + 15);
  });

  it(`carries at most ${MAX_CACHE_TAGS} tags`, () => {
    const origin = Array.from({ length: 1_200 }, (_, at) => `t${at}`);
    const tags = edgeEntryTags("https://shop.example/p", origin);
    expect(tags).toHaveLength(MAX_CACHE_TAGS);
    expectWithinCloudflareLimits(tags);
  });
});

describe("hostile URLs still give valid tags", () => {
  it.each([
    ["a huge path", `https://shop.example/${"a/".repeat(50_000)}${"b".repeat(100_000)}`],
    ["commas and spaces", "https://shop.example/a,b c/d, e?x=1,2 3"],
    ["non-ASCII", "https://shop.example/café/ü/𝄞?q=é"],
    ["control characters", "https://shop.example/a\u0000/\r\n/x"],
    ["quotes and backslashes", "https://shop.example/\"a\"\\b/'c'"],
    ["a huge host", `https://${"h".repeat(70_000)}/a/`],
    ["no path at all", "https://shop.example"],
    ["nothing like a URL", ", ,\u0000"],
    ["an empty string", ""],
  ])("%s", (_, url) => {
    const tags = edgeEntryTags(url, []);
    expect(tags.length).toBeGreaterThan(0);
    expectWithinCloudflareLimits(tags);
    expect(tags[0]).toBe(urlPurgeTag(url));
    for (const tag of tags) expect(tag.length).toBeLessThanOrEqual(50);
  });

  it("any text at all, as URL or origin tags, gives tags within the limits (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 300 }),
        fc.array(fc.string({ maxLength: 40 }), { maxLength: 30 }),
        (url, origin) => {
          const tags = edgeEntryTags(url, origin);
          expectWithinCloudflareLimits(tags);
          expect(tags).toContain(urlPurgeTag(url));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe("cloudflarePrefix: the same prefix in the form Cloudflare's prefix purge takes", () => {
  it.each([
    ["host and path, no scheme", "https://shop.example/a/b/", "shop.example/a/b/"],
    ["the port kept", "http://shop.example:8080/a", "shop.example:8080/a"],
    ["a host alone", "https://shop.example/", "shop.example/"],
    [
      "the query dropped (Cloudflare takes none: wider, never narrower)",
      "https://shop.example/a?x=1",
      "shop.example/a",
    ],
    [
      "cut before the 32nd separator",
      `https://shop.example/${"d/".repeat(40)}`,
      `shop.example/${"d/".repeat(30)}d`,
    ],
  ])("%s", (_, prefix, expected) => {
    expect(cloudflarePrefix(prefix)).toBe(expected);
  });

  it("is null for text that names no host", () => {
    expect(cloudflarePrefix("not a url")).toBeNull();
    expect(cloudflarePrefix("https:///x")).toBeNull();
  });
});
