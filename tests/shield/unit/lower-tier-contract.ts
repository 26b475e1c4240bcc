/**
 * The contract of the tiers below memory (origin-shield/store/lower-tier.ts) as one suite
 * that every lower tier runs: the disk tier and the Redis tier. Each case gets a fresh
 * tier from the caller's factory, with the budget, clock and events given; time moves
 * only by that clock. Nothing here knows how a tier stores, nor which entry it evicts:
 * only what any lower tier promises its caller.
 */
import { afterEach, describe, expect, it } from "vitest";
import type {
  LowerRecord,
  LowerTier,
  LowerTierEvents,
  RecordHead,
} from "../../../origin-shield/store/lower-tier.ts";
import { metaFor } from "./tier-contract.ts";

export interface LowerTierFactoryOptions {
  maxBytes: number;
  maxObjectBytes: number;
  now: () => number;
  events: LowerTierEvents[];
}

export type LowerTierFactory = (
  options: LowerTierFactoryOptions,
) => Promise<{ tier: LowerTier; cleanup(): Promise<void> }>;

/** The time metaFor's responses were received: the clock starts there. */
const T0 = Date.UTC(2026, 0, 1);

/** A head for `path` with the response fields given; Cache-Control max-age=60 unless given. */
export function headFor(path: string, headers: [string, string][] = []): RecordHead {
  const url = `http://example.com${path}`;
  const control = headers.some(([name]) => name === "cache-control");
  const meta = metaFor(control ? headers : [["cache-control", "max-age=60"], ...headers]);
  return { meta, id: { url, primary: `key:${url}` } };
}

export function keyFor(path: string): string {
  return `key:http://example.com${path}`;
}

/** The whole body of an object record, read from its stream when the tier streams it. */
export async function bodyOf(record: LowerRecord | undefined): Promise<Buffer | undefined> {
  if (record === undefined || record.kind === "vary") return undefined;
  if (record.kind === "object") return record.body;
  const chunks: Buffer[] = [];
  if (record.body.size === 0) return Buffer.alloc(0);
  for await (const chunk of record.body.open(0, record.body.size - 1)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Store `body` under `key` through a writer, in chunks; resolves to what commit said. */
export async function store(
  tier: LowerTier,
  key: string,
  head: RecordHead,
  body: Buffer,
  declared: number | null = body.length,
): Promise<boolean> {
  const writer = tier.writer(key, head, declared);
  if (writer === null) return false;
  const half = Math.floor(body.length / 2);
  if (!writer.write(body.subarray(0, half))) return false;
  if (!writer.write(body.subarray(half))) return false;
  return writer.commit();
}

export interface EventRecorder extends LowerTierEvents {
  readonly seen: string[];
}

export function recordEvents(): EventRecorder {
  const seen: string[] = [];
  return {
    seen,
    stored: (key, head) => seen.push(`stored ${key} ${etagOf(head)}`),
    removed: (key, head, reason) => seen.push(`removed ${key} ${etagOf(head)} ${reason}`),
  };
}

function etagOf(head: RecordHead): string {
  return head.meta.headers.find(([name]) => name === "etag")?.[1] ?? "-";
}

export function lowerTierContract(name: string, make: LowerTierFactory): void {
  describe(`${name}: the lower-tier contract`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    const clock = { now: T0 };

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    async function fresh(
      events: LowerTierEvents[] = [],
      maxObjectBytes = 100_000,
    ): Promise<LowerTier> {
      clock.now = T0;
      const made = await make({
        maxBytes: 10_000_000,
        maxObjectBytes,
        now: () => clock.now,
        events,
      });
      cleanups.push(made.cleanup);
      return made.tier;
    }

    it("an object comes back exactly: head deep-equal, body byte for byte", async () => {
      const tier = await fresh();
      const head = headFor("/a", [
        ["etag", '"v1"'],
        ["surrogate-key", "red blue"],
      ]);
      const derived = { ...head, id: { ...head.id, derivedFrom: "http://example.com/src" } };
      const body = Buffer.from(Array.from({ length: 5000 }, (_, at) => at % 251));
      expect(await store(tier, keyFor("/a"), derived, body)).toBe(true);
      const found = await tier.get(keyFor("/a"));
      expect(found?.kind).not.toBe("vary");
      if (found === undefined || found.kind === "vary") throw new Error("not stored");
      expect(found.head).toEqual(derived);
      expect((await bodyOf(found))?.equals(body)).toBe(true);
      // Keys are any string: one with non-ASCII characters is another key.
      const odd = `${keyFor("/ü")}?q=€\n`;
      expect(await store(tier, odd, headFor("/ü"), Buffer.from("odd"))).toBe(true);
      expect((await bodyOf(await tier.get(odd)))?.toString()).toBe("odd");
      expect(await tier.get(keyFor("/absent"))).toBeUndefined();
    });

    it("an empty body, and one of unknown length, are stored as well", async () => {
      const tier = await fresh();
      expect(await store(tier, keyFor("/empty"), headFor("/empty"), Buffer.alloc(0))).toBe(true);
      expect((await bodyOf(await tier.get(keyFor("/empty"))))?.length).toBe(0);
      const body = Buffer.from("chunked body");
      expect(await store(tier, keyFor("/chunked"), headFor("/chunked"), body, null)).toBe(true);
      expect((await bodyOf(await tier.get(keyFor("/chunked"))))?.toString()).toBe("chunked body");
    });

    it("a chunk the caller reuses after write does not change what is stored", async () => {
      const tier = await fresh();
      const writer = tier.writer(keyFor("/reuse"), headFor("/reuse"), 6);
      if (writer === null) throw new Error("refused");
      const chunk = Buffer.from("abc");
      expect(writer.write(chunk)).toBe(true);
      chunk.write("xyz");
      expect(writer.write(chunk)).toBe(true);
      chunk.write("!!!");
      expect(await writer.commit()).toBe(true);
      expect((await bodyOf(await tier.get(keyFor("/reuse"))))?.toString()).toBe("abcxyz");
    });

    it("a vary record comes back with its fields", async () => {
      const tier = await fresh();
      const fields = ["accept-encoding", "accept-language"];
      await tier.putVary(keyFor("/v"), fields, T0 + 60_000);
      expect(await tier.get(keyFor("/v"))).toEqual({ kind: "vary", fields });
      // A later list replaces it.
      await tier.putVary(keyFor("/v"), ["accept"], T0 + 60_000);
      expect(await tier.get(keyFor("/v"))).toEqual({ kind: "vary", fields: ["accept"] });
    });

    it("a written body is invisible until commit resolves true, then exact", async () => {
      const tier = await fresh();
      const writer = tier.writer(keyFor("/w"), headFor("/w"), 6);
      if (writer === null) throw new Error("refused");
      expect(writer.write(Buffer.from("abc"))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await tier.get(keyFor("/w"))).toBeUndefined();
      expect(writer.write(Buffer.from("def"))).toBe(true);
      expect(await writer.commit()).toBe(true);
      expect((await bodyOf(await tier.get(keyFor("/w"))))?.toString()).toBe("abcdef");
    });

    it("an aborted writer, or one ending short of its declared length, stores nothing", async () => {
      const tier = await fresh();
      const short = tier.writer(keyFor("/cut"), headFor("/cut"), 10);
      expect(short?.write(Buffer.from("abc"))).toBe(true);
      expect(await short?.commit()).toBe(false);
      const aborted = tier.writer(keyFor("/cut"), headFor("/cut"), null);
      expect(aborted?.write(Buffer.from("abc"))).toBe(true);
      aborted?.abort();
      expect(await aborted?.commit()).toBe(false);
      expect(await tier.get(keyFor("/cut"))).toBeUndefined();
      // Nor does either disturb what was stored before under the same key.
      expect(await store(tier, keyFor("/kept"), headFor("/kept"), Buffer.from("kept"))).toBe(true);
      const again = tier.writer(keyFor("/kept"), headFor("/kept"), 100);
      again?.write(Buffer.from("partial"));
      expect(await again?.commit()).toBe(false);
      const dropped = tier.writer(keyFor("/kept"), headFor("/kept"), null);
      dropped?.write(Buffer.from("partial"));
      dropped?.abort();
      expect((await bodyOf(await tier.get(keyFor("/kept"))))?.toString()).toBe("kept");
    });

    it("over maxObjectBytes is refused when declared and given up when it grows", async () => {
      const tier = await fresh([], 4);
      expect(tier.maxObjectBytes).toBe(4);
      expect(tier.writer(keyFor("/big"), headFor("/big"), 5)).toBeNull();
      const growing = tier.writer(keyFor("/big"), headFor("/big"), null);
      if (growing === null) throw new Error("refused");
      expect(growing.write(Buffer.from("abc"))).toBe(true);
      expect(growing.write(Buffer.from("de"))).toBe(false);
      expect(growing.write(Buffer.from("f"))).toBe(false);
      expect(await growing.commit()).toBe(false);
      // A body longer than it declared is given up as well.
      const liar = tier.writer(keyFor("/big"), headFor("/big"), 2);
      expect(liar?.write(Buffer.from("abc"))).toBe(false);
      expect(await liar?.commit()).toBe(false);
      expect(await tier.get(keyFor("/big"))).toBeUndefined();
    });

    it("replaceHead changes the head and keeps the body; false for an absent key", async () => {
      const tier = await fresh();
      const body = Buffer.from("the body, unchanged");
      expect(await store(tier, keyFor("/r"), headFor("/r"), body)).toBe(true);
      const renewed = headFor("/r", [
        ["cache-control", "max-age=600"],
        ["etag", '"v2"'],
      ]);
      expect(await tier.replaceHead(keyFor("/r"), renewed)).toBe(true);
      const found = await tier.get(keyFor("/r"));
      if (found === undefined || found.kind === "vary") throw new Error("lost");
      expect(found.head).toEqual(renewed);
      expect((await bodyOf(found))?.equals(body)).toBe(true);
      expect(await tier.replaceHead(keyFor("/none"), renewed)).toBe(false);
      expect(await tier.get(keyFor("/none"))).toBeUndefined();
    });

    it("delete removes one record; clear removes them all", async () => {
      const tier = await fresh();
      for (const path of ["/d1", "/d2", "/d3"]) {
        expect(await store(tier, keyFor(path), headFor(path), Buffer.from(path))).toBe(true);
      }
      await tier.putVary(keyFor("/dv"), ["accept"], T0 + 60_000);
      await tier.delete(keyFor("/d1"));
      await tier.delete(keyFor("/never-stored"));
      expect(await tier.get(keyFor("/d1"))).toBeUndefined();
      expect((await bodyOf(await tier.get(keyFor("/d2"))))?.toString()).toBe("/d2");
      await tier.clear();
      for (const path of ["/d1", "/d2", "/d3", "/dv"]) {
        expect(await tier.get(keyFor(path))).toBeUndefined();
      }
      // The tier still takes writes after a clear.
      expect(await store(tier, keyFor("/d4"), headFor("/d4"), Buffer.from("after"))).toBe(true);
      expect((await bodyOf(await tier.get(keyFor("/d4"))))?.toString()).toBe("after");
    });

    it("a record is not returned from its deleteAt on", async () => {
      const tier = await fresh();
      const head = headFor("/old");
      expect(await store(tier, keyFor("/old"), head, Buffer.from("old"))).toBe(true);
      await tier.putVary(keyFor("/oldv"), ["accept"], head.meta.deleteAt);
      clock.now = head.meta.deleteAt - 1;
      expect((await bodyOf(await tier.get(keyFor("/old"))))?.toString()).toBe("old");
      expect((await tier.get(keyFor("/oldv")))?.kind).toBe("vary");
      clock.now = head.meta.deleteAt;
      expect(await tier.get(keyFor("/old"))).toBeUndefined();
      expect(await tier.get(keyFor("/oldv"))).toBeUndefined();
      expect(await tier.replaceHead(keyFor("/old"), headFor("/old"))).toBe(false);
    });

    it("tells its events what it stored and what left, and why", async () => {
      const events = recordEvents();
      const tier = await fresh([events]);
      const first = headFor("/e", [["etag", "1"]]);
      const second = headFor("/e", [["etag", "2"]]);
      const third = headFor("/e", [["etag", "3"]]);
      await store(tier, keyFor("/e"), first, Buffer.from("one"));
      await store(tier, keyFor("/e"), second, Buffer.from("two"));
      await tier.replaceHead(keyFor("/e"), third);
      await tier.delete(keyFor("/e"));
      await tier.putVary(keyFor("/ev"), ["accept"], T0 + 60_000);
      await store(tier, keyFor("/f"), first, Buffer.from("three"));
      await tier.clear();
      expect(events.seen).toEqual([
        "stored key:http://example.com/e 1",
        "removed key:http://example.com/e 1 replace",
        "stored key:http://example.com/e 2",
        "removed key:http://example.com/e 2 replace",
        "stored key:http://example.com/e 3",
        "removed key:http://example.com/e 3 delete",
        "stored key:http://example.com/f 1",
        "removed key:http://example.com/f 1 delete",
      ]);
    });

    it("tells nothing of a write that was not stored", async () => {
      const events = recordEvents();
      const tier = await fresh([events], 4);
      await store(tier, keyFor("/n"), headFor("/n"), Buffer.from("too long"), null);
      const aborted = tier.writer(keyFor("/n"), headFor("/n"), null);
      aborted?.write(Buffer.from("ab"));
      aborted?.abort();
      await tier.delete(keyFor("/n"));
      expect(events.seen).toEqual([]);
    });
  });
}
