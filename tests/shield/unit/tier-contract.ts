/**
 * The storage-tier contract (origin-shield/store/tier.ts) as one suite that every tier
 * runs: the memory tier today, the disk and Redis tiers when they come. A tier is made
 * fresh for each case by the factory the caller passes, with the events it must send.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../core/config/index.ts";
import type { EntryMeta, HeaderPairs } from "../../../core/policy/index.ts";
import { planStorage, policyOptions } from "../../../core/policy/index.ts";
import { type StoredObject, toStoredObject } from "../../../origin-shield/store/stored-object.ts";
import type { RemovalReason, Tier, TierEvents } from "../../../origin-shield/store/tier.ts";

const T0 = Date.UTC(2026, 0, 1);
const options = policyOptions(
  parseConfig({ origins: [{ name: "o", url: "http://127.0.0.1:9", hosts: ["example.com"] }] }),
);

export function metaFor(headers: HeaderPairs, request: Headers = new Headers()): EntryMeta {
  const plan = planStorage({
    request: { method: "GET", headers: request },
    response: {
      status: 200,
      headers: new Headers([["date", new Date(T0).toUTCString()], ...headers]),
    },
    requestTime: T0,
    responseTime: T0,
    options,
  });
  if (!plan.store) throw new Error(`not storable: ${plan.reason}`);
  return plan.meta;
}

export function object(path: string, body: string, headers: HeaderPairs = []): StoredObject {
  const url = `http://example.com${path}`;
  const meta = metaFor([["cache-control", "max-age=60"], ...headers]);
  return toStoredObject(meta, Buffer.from(body), { url, primary: `key:${url}` });
}

export interface EventLog extends TierEvents {
  readonly seen: string[];
}

export function eventLog(): EventLog {
  const seen: string[] = [];
  return {
    seen,
    stored: (key) => seen.push(`stored ${key}`),
    removed: (key, _obj, reason: RemovalReason) => seen.push(`removed ${key} ${reason}`),
  };
}

export type TierFactory = (o: {
  maxBytes: number;
  maxObjectBytes: number;
  events: TierEvents[];
}) => Tier;

const none = new Headers();

export function tierContract(name: string, make: TierFactory): void {
  describe(`${name}: the storage-tier contract`, () => {
    const fresh = (events: TierEvents[] = [], maxBytes = 1_000_000, maxObjectBytes = 100_000) =>
      make({ maxBytes, maxObjectBytes, events });

    it("stores a response and finds it by its primary key", async () => {
      const tier = fresh();
      expect(tier.put(object("/a", "alpha"), none)).toBe(true);
      expect((await tier.lookup("key:http://example.com/a", none))?.body.toString()).toBe("alpha");
      expect(await tier.lookup("key:http://example.com/b", none)).toBeUndefined();
      expect(tier.entries).toBe(1);
      expect(tier.bytes).toBeGreaterThan(5);
    });

    it("a varying response is selected only by the request values it was stored for, in both directions", async () => {
      const tier = fresh();
      const gzip = new Headers({ "accept-encoding": "gzip" });
      const url = "http://example.com/v";
      const meta = metaFor(
        [
          ["cache-control", "max-age=60"],
          ["vary", "accept-encoding"],
        ],
        gzip,
      );
      tier.put(toStoredObject(meta, Buffer.from("zipped"), { url, primary: `key:${url}` }), gzip);
      expect((await tier.lookup(`key:${url}`, gzip))?.body.toString()).toBe("zipped");
      // A request without the field does not get the gzip variant...
      expect(await tier.lookup(`key:${url}`, none)).toBeUndefined();
      expect(tier.hasVariants(`key:${url}`)).toBe(true);
      // ...and a variant stored for its absence is not served to a request that has it.
      const plainMeta = metaFor([
        ["cache-control", "max-age=60"],
        ["vary", "accept-encoding"],
      ]);
      tier.put(
        toStoredObject(plainMeta, Buffer.from("plain"), { url, primary: `key:${url}` }),
        none,
      );
      expect((await tier.lookup(`key:${url}`, none))?.body.toString()).toBe("plain");
      expect((await tier.lookup(`key:${url}`, gzip))?.body.toString()).toBe("zipped");
      const br = new Headers({ "accept-encoding": "br" });
      expect(await tier.lookup(`key:${url}`, br)).toBeUndefined();
    });

    it("a body written in chunks is visible only once committed, and exactly as written", async () => {
      const tier = fresh();
      const url = "http://example.com/w";
      const head = {
        meta: metaFor([["cache-control", "max-age=60"]]),
        id: { url, primary: `key:${url}` },
      };
      const writer = tier.writer({ ...head, declaredLength: 6 }, none);
      if (writer === null) throw new Error("refused");
      expect(writer.write(Buffer.from("abc"))?.toString()).toBe("abc");
      expect(await tier.lookup(`key:${url}`, none)).toBeUndefined();
      writer.write(Buffer.from("def"));
      expect(writer.commit()?.body.toString()).toBe("abcdef");
      expect((await tier.lookup(`key:${url}`, none))?.body.toString()).toBe("abcdef");
    });

    it("a body that ends short of its declared length, or is aborted, is never stored", async () => {
      const tier = fresh();
      const url = "http://example.com/cut";
      const head = {
        meta: metaFor([["cache-control", "max-age=60"]]),
        id: { url, primary: `key:${url}` },
      };
      const short = tier.writer({ ...head, declaredLength: 10 }, none);
      short?.write(Buffer.from("abc"));
      expect(short?.commit()).toBeNull();
      const aborted = tier.writer({ ...head, declaredLength: null }, none);
      aborted?.write(Buffer.from("abc"));
      aborted?.abort();
      expect(aborted?.commit()).toBeNull();
      expect(await tier.lookup(`key:${url}`, none)).toBeUndefined();
    });

    it("an object over maxObjectBytes is refused up front when declared, and given up on when it grows", async () => {
      const tier = fresh([], 1_000_000, 4);
      const url = "http://example.com/big";
      const head = {
        meta: metaFor([["cache-control", "max-age=60"]]),
        id: { url, primary: `key:${url}` },
      };
      expect(tier.writer({ ...head, declaredLength: 5 }, none)).toBeNull();
      const growing = tier.writer({ ...head, declaredLength: null }, none);
      expect(growing?.write(Buffer.from("abc"))).not.toBeNull();
      expect(growing?.write(Buffer.from("de"))).toBeNull();
      expect(growing?.commit()).toBeNull();
      expect(tier.put(object("/big", "abcde"), none)).toBe(false);
      expect(tier.entries).toBe(0);
    });

    it("replace gives new metadata to what is stored, and refuses a key with nothing stored", async () => {
      const tier = fresh();
      const old = object("/r", "body");
      tier.put(old, none);
      const key = tier.keyOf(old, none);
      const renewed = object("/r", "body", [["cache-control", "max-age=600"]]);
      expect(tier.replace(key, renewed)).toBe(true);
      expect(tier.peek(key)?.meta.freshUntil).toBe(renewed.meta.freshUntil);
      expect(tier.replace("key:http://example.com/none", renewed)).toBe(false);
    });

    it("tells its events what it stored and removed, and why", () => {
      const log = eventLog();
      const tier = fresh([log], 12_000);
      const a = object("/a", "x".repeat(3000));
      tier.put(a, none);
      tier.replace(tier.keyOf(a, none), object("/a", "x".repeat(3000)));
      tier.delete(tier.keyOf(a, none));
      tier.put(object("/b", "y".repeat(3000)), none);
      tier.put(object("/c", "z".repeat(3000)), none);
      tier.put(object("/d", "w".repeat(3000)), none);
      expect(log.seen).toEqual([
        "stored key:http://example.com/a",
        "removed key:http://example.com/a replace",
        "stored key:http://example.com/a",
        "removed key:http://example.com/a delete",
        "stored key:http://example.com/b",
        "stored key:http://example.com/c",
        "removed key:http://example.com/b evict",
        "stored key:http://example.com/d",
      ]);
      expect(tier.bytes).toBeLessThanOrEqual(12_000);
    });
  });
}
