/**
 * What the disk tier remembers of files it read lately (origin-shield/store/disk-heads.ts)
 * and what is built from it: a remembered head is never served once the file is replaced,
 * given a new head, deleted or evicted; a file damaged, cut short, grown, replaced or
 * removed behind the tier's back is still noticed; the memory it takes stays within its
 * budget. And a body too large for memory but read whole per hit (a HeldBody) is sent as
 * one buffer, ranges included, with the stored object's shape shared between hits.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { appendFile, mkdtemp, open, rename, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { fromStored } from "../../../origin-shield/respond.ts";
import {
  encodeRecord,
  recordName,
  recordPath,
  TEMP_FOLDER,
} from "../../../origin-shield/store/disk-format.ts";
import { DiskTier, type DiskTierOptions } from "../../../origin-shield/store/disk-tier.ts";
import type { LowerRecord, RecordHead } from "../../../origin-shield/store/lower-tier.ts";
import { MemoryTier } from "../../../origin-shield/store/memory-tier.ts";
import { HeldBody } from "../../../origin-shield/store/stored-object.ts";
import { TieredStore } from "../../../origin-shield/store/tiered-store.ts";
import { bodyOf, headFor, keyFor, store } from "./lower-tier-contract.ts";

const T0 = Date.UTC(2026, 0, 1);
const KiB = 1024;

const folders: string[] = [];
const tiers: DiskTier[] = [];

afterEach(async () => {
  for (const tier of tiers.splice(0)) await tier.close();
  for (const dir of folders.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Bodies up to 1 KiB come back as objects, up to 64 KiB held, larger ones streamed. */
async function openTier(options: Partial<DiskTierOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), "disk-heads-"));
  folders.push(dir);
  const tier = DiskTier.open({
    dir,
    maxBytes: 64 * 1024 * KiB,
    maxObjectBytes: 16 * 1024 * KiB,
    readWholeMaxBytes: KiB,
    holdMaxBytes: 64 * KiB,
    now: () => T0,
    ...options,
  });
  tiers.push(tier);
  await tier.ready;
  return { dir, tier, fileOf: (key: string) => recordPath(dir, recordName(key)) };
}

function headOf(record: LowerRecord | undefined): RecordHead {
  if (record === undefined || record.kind === "vary") throw new Error("no object found");
  return record.head;
}

const SIZES = [
  ["an empty body", 0, "object"],
  ["an object", 500, "object"],
  ["a held body", 10 * KiB, "streamed"],
  ["a streamed body", 200 * KiB, "streamed"],
] as const;

describe("the disk tier's remembered heads", () => {
  for (const [label, size, kind] of SIZES) {
    it(`${label}: the same head while the file stands, never one replaced or removed`, async () => {
      const { tier } = await openTier();
      const key = keyFor("/h");
      const first = randomBytes(size);
      expect(await store(tier, key, headFor("/h"), first)).toBe(true);
      const read = await tier.get(key);
      expect(read?.kind).toBe(kind);
      expect(tier.health().heads).toBe(1);
      const again = await tier.get(key);
      // The very same object: neither read nor parsed again.
      expect(headOf(again)).toBe(headOf(read));
      expect((await bodyOf(again))?.equals(first)).toBe(true);

      const renewed = headFor("/h", [["etag", '"renewed"']]);
      expect(await tier.replaceHead(key, renewed)).toBe(true);
      const after = await tier.get(key);
      expect(headOf(after)).toEqual(renewed);
      expect((await bodyOf(after))?.equals(first)).toBe(true);

      const second = randomBytes(size);
      expect(await store(tier, key, headFor("/h", [["etag", '"second"']]), second)).toBe(true);
      const rewritten = await tier.get(key);
      expect(headOf(rewritten).meta.headers).toContainEqual(["etag", '"second"']);
      expect((await bodyOf(rewritten))?.equals(second)).toBe(true);

      await tier.delete(key);
      expect(tier.health().heads).toBe(0);
      expect(await tier.get(key)).toBeUndefined();
    });

    it(`${label}: a file damaged, cut short or grown under a remembered head is found damaged`, async () => {
      const { tier, fileOf } = await openTier();
      const damage = {
        flipped: async (file: string) => {
          const handle = await open(file, "r+");
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, size >> 1);
          await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, size >> 1);
          await handle.close();
        },
        cut: async (file: string) => truncate(file, (await stat(file)).size - 3),
        grown: async (file: string) => appendFile(file, "trailing bytes"),
      };
      let corrupt = 0;
      for (const [how, spoil] of Object.entries(damage)) {
        const key = keyFor(`/${how}`);
        const body = randomBytes(size);
        expect(await store(tier, key, headFor(`/${how}`), body)).toBe(true);
        expect((await bodyOf(await tier.get(key)))?.equals(body), how).toBe(true);
        await spoil(fileOf(key));
        // A streamed body flipped in place is the same file, as long: the stream finds it.
        const read = await tier.get(key);
        if (read !== undefined) {
          expect([how, read.kind]).toEqual(["flipped", "streamed"]);
          await expect(bodyOf(read)).rejects.toThrow(/checksum/);
        }
        corrupt++;
        // A stream reports the damage as it fails; the removal follows under the file's lock.
        await until(() => tier.health().corrupt === corrupt && !existsSync(fileOf(key)));
        expect(await tier.get(key), how).toBeUndefined();
      }
      expect(tier.health()).toMatchObject({ entries: 0, heads: 0 });
    });
  }

  it("a file removed or replaced behind the tier's back is noticed as before", async () => {
    const { dir, tier, fileOf } = await openTier();
    const gone = keyFor("/gone");
    expect(await store(tier, gone, headFor("/gone"), Buffer.alloc(5000, 1))).toBe(true);
    await tier.get(gone);
    await rm(fileOf(gone));
    expect(await tier.get(gone)).toBeUndefined();
    expect(tier.health()).toMatchObject({ entries: 0, heads: 0, corrupt: 0 });

    // Another intact record for the key, renamed over the file by hand: served, as a file
    // found by the full read always was, with its own head and body.
    const swapped = keyFor("/swapped");
    expect(await store(tier, swapped, headFor("/swapped"), Buffer.alloc(5000, 2))).toBe(true);
    await tier.get(swapped);
    const head = headFor("/swapped", [["etag", '"by hand"']]);
    const body = Buffer.alloc(6000, 3);
    const description = { key: swapped, head, deleteAt: head.meta.deleteAt };
    const file = encodeRecord(
      { kind: "object", ...description, bodyLength: body.length, bodyCrc: crc32(body) },
      body,
    );
    const temp = join(dir, TEMP_FOLDER, "by-hand");
    await writeFile(temp, file);
    await rename(temp, fileOf(swapped));
    const found = await tier.get(swapped);
    expect(headOf(found)).toEqual(head);
    expect((await bodyOf(found))?.equals(body)).toBe(true);
  });

  it("what is remembered stays within its byte budget, and every hit is still exact", async () => {
    const { tier } = await openTier({ headCacheBytes: 8 * KiB });
    const bodies = new Map<string, Buffer>();
    for (let count = 0; count < 20; count++) {
      const key = keyFor(`/many/${count}`);
      bodies.set(key, randomBytes(2000 + count));
      expect(await store(tier, key, headFor(`/many/${count}`), bodies.get(key)!)).toBe(true);
    }
    for (let round = 0; round < 2; round++) {
      for (const [key, body] of bodies) {
        expect((await bodyOf(await tier.get(key)))?.equals(body)).toBe(true);
        expect(tier.health().headBytes).toBeLessThanOrEqual(8 * KiB);
      }
    }
    expect(tier.health().heads).toBeGreaterThan(0);
    expect(tier.health().heads).toBeLessThan(20);
    await tier.clear();
    expect(tier.health()).toMatchObject({ heads: 0, headBytes: 0 });
  });
});

describe("a body read whole per hit (HeldBody)", () => {
  it("is sent as one buffer, ranges included, never kept in memory; hits share one shape", async () => {
    const { tier } = await openTier();
    const memory = new MemoryTier({ maxBytes: 1024 * KiB, maxObjectBytes: KiB });
    const tiered = new TieredStore(memory, [tier]);
    const body = randomBytes(40 * KiB);
    const key = keyFor("/held");
    expect(await store(tier, key, headFor("/held"), body)).toBe(true);
    const headers = new Headers();
    const first = await tiered.lookup(key, headers);
    const second = await tiered.lookup(key, headers);
    if (first === undefined || second === undefined) throw new Error("not found");
    expect(first.streamed).toBeInstanceOf(HeldBody);
    expect(first.from).toBe("disk");
    expect(second.flat).toBe(first.flat);
    expect(memory.entries).toBe(0);

    const member = { cache: "shield", hit: true, detail: "disk" };
    const whole = fromStored({ method: "GET", headers }, second, 0, member, "hit");
    expect(Buffer.isBuffer(whole.body) && whole.body.equals(body)).toBe(true);
    expect(whole.headers).toContain(String(body.length));
    const ranged = new Headers({ range: "bytes=100-199" });
    const part = fromStored({ method: "GET", headers: ranged }, second, 0, member, "hit");
    expect(part.status).toBe(206);
    expect(Buffer.isBuffer(part.body) && part.body.equals(body.subarray(100, 200))).toBe(true);
    const bare = fromStored({ method: "HEAD", headers }, second, 0, member, "hit");
    expect(bare.body).toBeNull();

    // A new head is a new shape, with its own fields.
    await tier.replaceHead(key, headFor("/held", [["etag", '"new"']]));
    const renewed = await tiered.lookup(key, headers);
    expect(renewed?.flat).not.toBe(first.flat);
    expect(renewed?.flat).toContain('"new"');
  });
});

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
