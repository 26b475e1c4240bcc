/**
 * The bound on variants per key: a client sending 10,000 distinct values of a varied
 * field (each a miss the edge would store) leaves at most MAX_VARIANTS slots and one
 * record under the key. The placement is checked over all 10,000; the store itself, in
 * workerd's Cache API, over a few hundred writes (each costs three Cache API calls).
 */
import { describe, expect, it } from "vitest";
import { captureVary, type EntryMeta } from "../../core/policy/index.ts";
import { EntryStore } from "../../workers/cache/entry-store.ts";
import { IsolateCache } from "../../workers/cache/isolate-cache.ts";
import { decodeStored } from "../../workers/cache/meta-codec.ts";
import {
  MAX_VARIANTS,
  placeVariant,
  slotName,
  type VaryRecord,
} from "../../workers/cache/vary-record.ts";

const CACHE_ORIGIN = "https://edge-cache.internal/";
const NOW = 1_700_000_000_000;

function metaFor(tenant: string): EntryMeta {
  const headers = new Headers({ vary: "X-Tenant" });
  const vary = captureVary(headers, new Headers({ "x-tenant": tenant }));
  if (vary === null || vary === "*") throw new Error("expected a capture");
  return {
    status: 200,
    headers: [
      ["vary", "X-Tenant"],
      ["content-length", "2"],
    ],
    requestTime: NOW,
    responseTime: NOW,
    initialAge: 0,
    freshnessLifetime: 600,
    lifetimeSource: "max-age",
    freshUntil: NOW + 600_000,
    staleWhileRevalidateUntil: NOW + 600_000,
    staleIfErrorUntil: NOW + 600_000,
    deleteAt: NOW + 600_000,
    staleForbidden: false,
    vary,
    shareableWithAuthorization: false,
    tags: [],
  };
}

describe("variants per key are bounded whatever a client sends", () => {
  it("10,000 distinct values are placed in MAX_VARIANTS slots, replacing the oldest", () => {
    let record: VaryRecord | null = null;
    const used = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const placed = placeVariant(record, ["x-tenant"], `id${i}`, NOW + 1000);
      record = placed.record;
      used.add(placed.slot);
      expect(record.variants.length).toBeLessThanOrEqual(MAX_VARIANTS);
    }
    expect([...used].sort((a, b) => a - b)).toEqual([...Array(MAX_VARIANTS).keys()]);
    expect(record?.variants.map((v) => v.id)).toEqual(
      Array.from({ length: MAX_VARIANTS }, (_, i) => `id${10_000 - MAX_VARIANTS + i}`),
    );
    // A value seen again keeps its slot and becomes the newest.
    const again = placeVariant(record, ["x-tenant"], `id${10_000 - MAX_VARIANTS}`, NOW);
    expect(again.slot).toBe(record?.variants[0]?.slot);
    expect(again.record.variants.at(-1)?.id).toBe(`id${10_000 - MAX_VARIANTS}`);
  });

  it("hundreds of distinct values stored leave MAX_VARIANTS slots and one record in the Cache API", {
    timeout: 60_000,
  }, async () => {
    const cache = await caches.open(crypto.randomUUID());
    const memory = new IsolateCache({ maxBytes: 1 << 20, maxObjectBytes: 1 << 16, windowMs: 1 });
    const store = new EntryStore(cache, { memory });
    const name = "key-name";
    const key = '[null,"https","edge.test","/hostile","",[],[],null]';
    const values = 300;
    for (let i = 0; i < values; i++) {
      const result = await store.put(name, key, metaFor(`t${i}`), new Uint8Array([1, 2]), NOW, [
        "https://edge.test/hostile",
      ]);
      expect(result).toBe("stored");
    }
    // Slots are named by key and number only: nothing exists past the last one.
    let slots = 0;
    for (let slot = 0; slot < MAX_VARIANTS * 2; slot++) {
      const res = await cache.match(CACHE_ORIGIN + slotName(name, slot));
      await res?.body?.cancel();
      if (res !== undefined) slots++;
    }
    expect(slots).toBe(MAX_VARIANTS);
    const record = await cache.match(CACHE_ORIGIN + name);
    const decoded = decodeStored(record?.headers.get("x-edge-meta") ?? null);
    expect(decoded?.kind).toBe("vary");
    if (decoded?.kind !== "vary") return;
    expect(decoded.record.variants).toHaveLength(MAX_VARIANTS);
    // The last values sent are the ones kept, each found by its own value only.
    const last = await store.lookup(name, key, new Headers({ "x-tenant": `t${values - 1}` }), NOW);
    expect(last.entry?.meta.vary?.values).toEqual([`t${values - 1}`]);
    const first = await store.lookup(name, key, new Headers({ "x-tenant": "t0" }), NOW);
    expect(first).toEqual({ entry: null, varyMiss: true });
    // The isolate's memory holds a handful of small objects, not 10,000.
    expect(memory.bytes).toBeLessThan((MAX_VARIANTS + 2) * 2048);
  });
});
