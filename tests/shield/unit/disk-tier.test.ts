/**
 * The disk tier (origin-shield/store/disk-tier.ts) against the lower-tier contract, and
 * what only a disk has: restarts, damaged files, bodies too large for memory, a byte
 * budget, a disk that is slow or refuses writes, and a rebuild over many files. Real
 * files, in a fresh folder under the system's temp folder for each case.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { copyFile, mkdtemp, open, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  encodeRecord,
  recordName,
  recordPath,
  TEMP_FOLDER,
} from "../../../origin-shield/store/disk-format.ts";
import { DiskTier, type DiskTierOptions } from "../../../origin-shield/store/disk-tier.ts";
import type { LowerRecord } from "../../../origin-shield/store/lower-tier.ts";
import {
  bodyOf,
  headFor,
  keyFor,
  lowerTierContract,
  recordEvents,
  store,
} from "./lower-tier-contract.ts";

const T0 = Date.UTC(2026, 0, 1);
const MiB = 1024 * 1024;

const folders: string[] = [];
const tiers: DiskTier[] = [];

afterEach(async () => {
  for (const tier of tiers.splice(0)) await tier.close();
  for (const dir of folders.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "disk-tier-"));
  folders.push(dir);
  return dir;
}

function openTier(dir: string, options: Partial<DiskTierOptions> = {}): DiskTier {
  const tier = DiskTier.open({
    dir,
    maxBytes: 256 * MiB,
    maxObjectBytes: 64 * MiB,
    readWholeMaxBytes: MiB,
    now: () => T0,
    ...options,
  });
  tiers.push(tier);
  return tier;
}

function fileOf(dir: string, key: string): string {
  return recordPath(dir, recordName(key));
}

/** A pino logger writing into `lines`, one parsed object per line. */
function memoryLog(lines: { level: number; msg: string }[]) {
  return pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
}

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Every chunk of a stream, and the error it ended with, if any. */
async function drain(stream: AsyncIterable<Buffer>): Promise<{ bytes: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
    return { bytes: Buffer.concat(chunks), error: null };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

function streamed(record: LowerRecord | undefined) {
  if (record?.kind !== "streamed") throw new Error(`expected a streamed record: ${record?.kind}`);
  return record;
}

for (const [label, readWholeMaxBytes] of [
  ["disk tier", MiB],
  ["disk tier, every body streamed", 0],
] as const) {
  lowerTierContract(label, async (options) => {
    const dir = await folder();
    const tier = DiskTier.open({ dir, readWholeMaxBytes, ...options });
    await tier.ready;
    return {
      tier,
      cleanup: async () => {
        await tier.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

describe("the disk tier", () => {
  it("a new tier on the same folder serves what the last one stored, at once and after its rebuild", async () => {
    const dir = await folder();
    const first = openTier(dir);
    expect(await store(first, keyFor("/a"), headFor("/a"), Buffer.from("alpha"))).toBe(true);
    expect(await store(first, keyFor("/b"), headFor("/b"), Buffer.from("beta"))).toBe(true);
    await first.putVary(keyFor("/v"), ["accept-encoding"], T0 + 60_000);
    await first.close();
    // What a crash leaves: a temp file, a file that is no record, one long expired.
    await writeFile(join(dir, TEMP_FOLDER, "left-by-a-crash"), "partial");
    const garbage = fileOf(dir, "garbage");
    mkdirSync(dirname(garbage), { recursive: true });
    await writeFile(garbage, "not a record at all, no footer here, not even one");
    const old = headFor("/old");
    const expired = fileOf(dir, keyFor("/old"));
    mkdirSync(dirname(expired), { recursive: true });
    const x = Buffer.from("x");
    const description = { key: keyFor("/old"), head: old, bodyLength: 1, bodyCrc: crc32(x) };
    await writeFile(expired, encodeRecord({ kind: "object", ...description, deleteAt: T0 - 1 }, x));

    const events = recordEvents();
    const second = openTier(dir, { events: [events] });
    expect(second.health().rebuilding).toBe(true);
    const early = second.get(keyFor("/a"));
    expect((await bodyOf(await early))?.toString()).toBe("alpha");
    await second.ready;
    expect(second.health()).toMatchObject({ rebuilding: false, entries: 3, corrupt: 1 });
    expect((await bodyOf(await second.get(keyFor("/b"))))?.toString()).toBe("beta");
    expect(await second.get(keyFor("/v"))).toEqual({ kind: "vary", fields: ["accept-encoding"] });
    expect(events.seen.sort()).toEqual([
      "stored key:http://example.com/a -",
      "stored key:http://example.com/b -",
    ]);
    expect(await readdir(join(dir, TEMP_FOLDER))).toEqual([]);
    expect(existsSync(garbage)).toBe(false);
    expect(existsSync(expired)).toBe(false);
  });

  it("a file cut short, one with a flipped body byte, one holding another key: never served, removed, counted", async () => {
    const dir = await folder();
    const lines: { level: number; msg: string }[] = [];
    const tier = openTier(dir, { log: memoryLog(lines) });
    await tier.ready;
    for (const path of ["/cut", "/flip", "/moved", "/good"]) {
      const body = Buffer.alloc(3000, path);
      expect(await store(tier, keyFor(path), headFor(path), body)).toBe(true);
    }
    const cut = fileOf(dir, keyFor("/cut"));
    await truncate(cut, (await stat(cut)).size - 7);
    const flip = fileOf(dir, keyFor("/flip"));
    const handle = await open(flip, "r+");
    await handle.write(Buffer.from([0xff]), 0, 1, 100);
    await handle.close();
    const moved = fileOf(dir, keyFor("/moved"));
    await copyFile(fileOf(dir, keyFor("/good")), moved);

    for (const path of ["/cut", "/flip", "/moved"]) {
      expect(await tier.get(keyFor(path)), path).toBeUndefined();
    }
    expect([cut, flip, moved].filter((file) => existsSync(file))).toEqual([]);
    expect(tier.health().corrupt).toBe(3);
    expect(lines.filter((line) => line.msg.includes("damaged"))).toHaveLength(3);
    expect((await bodyOf(await tier.get(keyFor("/good"))))?.length).toBe(3000);
    expect(await tier.get(keyFor("/flip"))).toBeUndefined();
    expect(tier.health().corrupt).toBe(3);
  });

  it("a large body is streamed from disk, exactly and by range, and a damaged one makes the stream fail", async () => {
    const dir = await folder();
    const tier = openTier(dir);
    await tier.ready;
    const body = randomBytes(20 * MiB);
    const writer = tier.writer(keyFor("/large"), headFor("/large"), body.length);
    if (writer === null) throw new Error("refused");
    for (let at = 0; at < body.length; at += 256 * 1024) {
      expect(writer.write(body.subarray(at, at + 256 * 1024))).toBe(true);
      // The pace of a fast origin, a chunk per turn of the event loop: the disk keeps up.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(await writer.commit()).toBe(true);

    const found = streamed(await tier.get(keyFor("/large")));
    expect(found.head).toEqual(headFor("/large"));
    expect(found.body.size).toBe(body.length);
    const whole = await drain(found.body.open(0, body.length - 1));
    expect(whole.error).toBeNull();
    expect(whole.bytes.equals(body)).toBe(true);
    const size = body.length;
    for (const [start, end] of [
      [0, 0],
      [5, 70_000],
      [size - 10, size - 1],
      [MiB - 1, 3 * MiB + 17],
    ] as const) {
      const part = await drain(found.body.open(start, end));
      expect(part.bytes.equals(body.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }

    // Closed part way, or left by a break: the file is released either way.
    const stopped = found.body.open(0, size - 1);
    for await (const _chunk of stopped) break;
    const closed = found.body.open(0, size - 1);
    const iterator = closed[Symbol.asyncIterator]();
    await iterator.next();
    expect(tier.health().streams).toBe(1);
    closed.close();
    await until(() => tier.health().streams === 0);

    // One byte flipped in the middle: the stream throws instead of ending as if complete,
    // and never hands over the last chunk.
    const file = fileOf(dir, keyFor("/large"));
    const handle = await open(file, "r+");
    await handle.write(Buffer.from([body[10 * MiB]! ^ 0xff]), 0, 1, 10 * MiB);
    await handle.close();
    const damaged = await drain(streamed(await tier.get(keyFor("/large"))).body.open(0, size - 1));
    expect(damaged.error).toBeInstanceOf(Error);
    expect(damaged.bytes.length).toBeLessThan(size);
    await until(() => tier.health().entries === 0);
    expect(existsSync(file)).toBe(false);
    expect(tier.health()).toMatchObject({ corrupt: 1, streams: 0 });
  });

  it("a stream opened before a new head was written still reads the same body", async () => {
    const dir = await folder();
    const tier = openTier(dir, { readWholeMaxBytes: 1024 });
    await tier.ready;
    const body = randomBytes(300_000);
    expect(await store(tier, keyFor("/s"), headFor("/s"), body)).toBe(true);
    const found = streamed(await tier.get(keyFor("/s")));
    const renewed = headFor("/s", [["cache-control", "max-age=900"]]);
    expect(await tier.replaceHead(keyFor("/s"), renewed)).toBe(true);
    const read = await drain(found.body.open(0, body.length - 1));
    expect(read.error).toBeNull();
    expect(read.bytes.equals(body)).toBe(true);
    expect(streamed(await tier.get(keyFor("/s"))).head).toEqual(renewed);
  });

  it("beyond maxBytes the least recently used files are deleted from disk", async () => {
    const dir = await folder();
    const events = recordEvents();
    // Each record below takes one 4 KiB block: room for three.
    const tier = openTier(dir, { maxBytes: 3 * 4096, events: [events] });
    await tier.ready;
    for (const path of ["/1", "/2", "/3"]) {
      expect(await store(tier, keyFor(path), headFor(path), Buffer.alloc(1000, path))).toBe(true);
    }
    expect(tier.health().bytes).toBe(3 * 4096);
    expect(await tier.get(keyFor("/1"))).toBeDefined(); // now /2 is the least recently used
    expect(await store(tier, keyFor("/4"), headFor("/4"), Buffer.alloc(1000, "4"))).toBe(true);
    expect(existsSync(fileOf(dir, keyFor("/2")))).toBe(false);
    for (const path of ["/1", "/3", "/4"]) expect(existsSync(fileOf(dir, keyFor(path)))).toBe(true);
    expect(await tier.get(keyFor("/2"))).toBeUndefined();
    expect(tier.health()).toMatchObject({ bytes: 3 * 4096, entries: 3 });
    expect(events.seen).toContain("removed key:http://example.com/2 - evict");
  });

  it("expired records are removed when asked for, and by the sweep when nobody asks", async () => {
    const dir = await folder();
    const events = recordEvents();
    let now = T0;
    const tier = openTier(dir, { now: () => now, events: [events], sweepIntervalMs: 20 });
    await tier.ready;
    const head = headFor("/x");
    await store(tier, keyFor("/x"), head, Buffer.from("x"));
    await store(tier, keyFor("/y"), head, Buffer.from("y"));
    now = head.meta.deleteAt;
    expect(await tier.get(keyFor("/x"))).toBeUndefined();
    expect(events.seen).toContain("removed key:http://example.com/x - expire");
    await until(() => events.seen.includes("removed key:http://example.com/y - expire"));
    expect(existsSync(fileOf(dir, keyFor("/y")))).toBe(false);
    expect(tier.health().entries).toBe(0);
  });

  it("a writer the disk cannot keep up with gives up rather than hold the body in memory", async () => {
    const dir = await folder();
    const tier = openTier(dir);
    await tier.ready;
    const writer = tier.writer(keyFor("/flood"), headFor("/flood"), null);
    if (writer === null) throw new Error("refused");
    // 1 MiB chunks offered in one burst: no write to the disk can finish in between, as
    // when a stalled disk takes nothing while the origin keeps sending.
    const chunk = Buffer.alloc(MiB, 1);
    const taken: boolean[] = [];
    for (let count = 0; count < 12; count++) taken.push(writer.write(chunk));
    expect(taken.indexOf(false)).toBe(8);
    expect(taken.slice(8).every((ok) => !ok)).toBe(true);
    expect(await writer.commit()).toBe(false);
    expect(await readdir(join(dir, TEMP_FOLDER))).toEqual([]);
    expect(await tier.get(keyFor("/flood"))).toBeUndefined();
    expect(tier.health().state).toBe("up");
  });

  it("a disk that refuses writes takes the tier down; it serves what it has and comes back up by itself", async () => {
    const dir = await folder();
    const lines: { level: number; msg: string }[] = [];
    const tier = openTier(dir, { log: memoryLog(lines), retryAfterMs: 30 });
    await tier.ready;
    expect(await store(tier, keyFor("/kept"), headFor("/kept"), Buffer.from("kept"))).toBe(true);
    // The temp folder becomes a file: every write fails (ENOTDIR), as on a disk gone bad.
    const temp = join(dir, TEMP_FOLDER);
    await rm(temp, { recursive: true });
    await writeFile(temp, "not a folder");

    expect(await store(tier, keyFor("/lost"), headFor("/lost"), Buffer.from("lost"))).toBe(false);
    expect(tier.health()).toMatchObject({ state: "down", writeErrors: 1 });
    expect(tier.health().error).toContain("ENOTDIR");
    expect(tier.writer(keyFor("/refused"), headFor("/refused"), 5)).toBeNull();
    await tier.putVary(keyFor("/vary"), ["accept"], T0 + 60_000);
    expect(await tier.get(keyFor("/vary"))).toBeUndefined();
    expect((await bodyOf(await tier.get(keyFor("/kept"))))?.toString()).toBe("kept");
    await new Promise((resolve) => setTimeout(resolve, 120)); // a few probes fail meanwhile
    expect(tier.health().state).toBe("down");
    expect(lines.filter((line) => line.msg.includes("down"))).toHaveLength(1);

    await rm(temp);
    await until(() => tier.health().state === "up");
    expect(tier.health().error).toBeUndefined();
    expect(lines.filter((line) => line.msg.includes("up"))).toHaveLength(1);
    expect(await store(tier, keyFor("/back"), headFor("/back"), Buffer.from("back"))).toBe(true);
    expect((await bodyOf(await tier.get(keyFor("/back"))))?.toString()).toBe("back");
  });

  it("rebuilds an index of 5,000 files in batches that yield, serving meanwhile", async () => {
    const dir = await folder();
    const head = headFor("/many");
    const keys: string[] = [];
    for (let folder = 0; folder < 256; folder++) {
      mkdirSync(join(dir, folder.toString(16).padStart(2, "0")));
    }
    const writes: Promise<void>[] = [];
    for (let count = 0; count < 5000; count++) {
      const key = keyFor(`/many/${count}`);
      keys.push(key);
      const body = Buffer.from(`body ${count}`);
      const description = { key, head, deleteAt: head.meta.deleteAt, bodyCrc: crc32(body) };
      const file = encodeRecord({ kind: "object", ...description, bodyLength: body.length }, body);
      writes.push(writeFile(fileOf(dir, key), file));
      if (writes.length === 64) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const events = recordEvents();
    let ticks = 0;
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const at = performance.now();
      longest = Math.max(longest, at - last);
      last = at;
      ticks++;
    }, 1);
    const tier = openTier(dir, { events: [events] });
    let rebuilt = false;
    void tier.ready.then(() => {
      rebuilt = true;
    });
    const early = await tier.get(keys[4321]!);
    expect((await bodyOf(early))?.toString()).toBe("body 4321");
    expect(rebuilt).toBe(false);
    await tier.ready;
    clearInterval(timer);
    expect(tier.health()).toMatchObject({ entries: 5000, rebuilding: false, corrupt: 0 });
    expect(events.seen).toHaveLength(5000);
    expect(ticks).toBeGreaterThan(5);
    expect(longest).toBeLessThan(250);
  });

  it("close waits for a commit under way, and the tier answers nothing after", async () => {
    const dir = await folder();
    const tier = openTier(dir);
    await tier.ready;
    const writer = tier.writer(keyFor("/c"), headFor("/c"), 3);
    writer?.write(Buffer.from("abc"));
    const committed = writer?.commit();
    const open = tier.writer(keyFor("/o"), headFor("/o"), null);
    open?.write(Buffer.from("unfinished"));
    await tier.close();
    expect(await committed).toBe(true);
    expect(await open?.commit()).toBe(false);
    expect(await readdir(join(dir, TEMP_FOLDER))).toEqual([]);
    expect(tier.writer(keyFor("/d"), headFor("/d"), 1)).toBeNull();
    expect(await tier.get(keyFor("/c"))).toBeUndefined();
    const reopened = openTier(dir);
    expect((await bodyOf(await reopened.get(keyFor("/c"))))?.toString()).toBe("abc");
  });
});
