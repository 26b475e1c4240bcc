/** The memory tier against the storage-tier contract, and the purge index it feeds. */
import { describe, expect, it } from "vitest";
import { MemoryTier } from "../../../origin-shield/store/memory-tier.ts";
import { PurgeIndex } from "../../../origin-shield/store/purge-index.ts";
import { object, tierContract } from "./tier-contract.ts";

tierContract("memory tier", (o) => new MemoryTier(o));

describe("the purge index follows the tier", () => {
  const none = new Headers();

  it("an entry replaced under new tags leaves no trace of the old: purging the old tag finds nothing", () => {
    const index = new PurgeIndex();
    const tier = new MemoryTier({ maxBytes: 1_000_000, maxObjectBytes: 100_000, events: [index] });
    const v1 = object("/p", "v1", [["surrogate-key", "old shared"]]);
    tier.put(v1, none);
    expect(index.keysForTag("old")).toEqual(["key:http://example.com/p"]);
    const v2 = object("/p", "v2", [["surrogate-key", "new shared"]]);
    tier.put(v2, none);
    expect(index.keysForTag("old")).toEqual([]);
    expect(index.keysForTag("new")).toEqual(["key:http://example.com/p"]);
    expect(index.keysForTag("shared")).toEqual(["key:http://example.com/p"]);
    // The same through replace (a 304 refresh that changed the tags).
    tier.replace(tier.keyOf(v2, none), object("/p", "v2", [["surrogate-key", "third"]]));
    expect(index.keysForTag("new")).toEqual([]);
    expect(index.keysForTag("third")).toEqual(["key:http://example.com/p"]);
  });

  it("an evicted entry leaves the URL, tag and prefix indexes", () => {
    const index = new PurgeIndex();
    const tier = new MemoryTier({ maxBytes: 10_000, maxObjectBytes: 100_000, events: [index] });
    tier.put(object("/e/1", "x".repeat(3000), [["surrogate-key", "t"]]), none);
    tier.put(object("/e/2", "x".repeat(3000), [["surrogate-key", "t"]]), none);
    tier.put(object("/e/3", "x".repeat(3000), [["surrogate-key", "t"]]), none);
    expect(index.keysForUrl("http://example.com/e/1")).toEqual([]);
    expect(index.keysForTag("t").sort()).toEqual([
      "key:http://example.com/e/2",
      "key:http://example.com/e/3",
    ]);
    expect(index.keysForPrefix("http://example.com/e/").sort()).toEqual([
      "key:http://example.com/e/2",
      "key:http://example.com/e/3",
    ]);
  });
});
