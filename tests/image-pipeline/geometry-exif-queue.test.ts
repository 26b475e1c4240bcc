import fc from "fast-check";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { ImageError } from "../../core/variant/index.ts";
import { copyrightFields } from "../../image-pipeline/exif.ts";
import { coverBox } from "../../image-pipeline/geometry.ts";
import { TransformQueue } from "../../image-pipeline/queue.ts";

describe("coverBox", () => {
  it.each([
    // source, box, enlarge → scaled, crop
    ["cover enlarges to fill", [1000, 500], [800, 800], true, [1600, 800], [800, 800]],
    ["crop never enlarges", [1000, 500], [800, 800], false, [1000, 500], [800, 500]],
    ["crop of a source smaller on both sides", [100, 50], [800, 800], false, [100, 50], [100, 50]],
    ["cover of a small source", [100, 50], [800, 800], true, [1600, 800], [800, 800]],
    ["cover shrinks a large source", [4000, 3000], [400, 400], true, [533, 400], [400, 400]],
    ["crop shrinks a large source", [4000, 3000], [400, 400], false, [533, 400], [400, 400]],
    ["wide box of a 4:3 source", [4000, 3000], [800, 200], false, [800, 600], [800, 200]],
    ["same aspect ratio: no crop", [1920, 1080], [960, 540], true, [960, 540], [960, 540]],
    ["a sliver keeps one pixel", [3, 1000], [1, 1], true, [1, 333], [1, 1]],
    ["crop of a 1 px high strip", [10_000, 1], [16, 16], false, [10_000, 1], [16, 1]],
    ["cover of a 1 px high strip", [10_000, 1], [16, 16], true, [160_000, 16], [16, 16]],
  ] as const)(
    "%s: %j into %j (enlarge %s) → scaled %j, crop %j",
    (_, src, box, enlarge, scaled, crop) => {
      const b = coverBox(src[0], src[1], box[0], box[1], enlarge);
      expect(b).toEqual({
        scaledWidth: scaled[0],
        scaledHeight: scaled[1],
        width: crop[0],
        height: crop[1],
      });
    },
  );

  it("the crop always fits in the box and in the scaled image; cover always fills the box", () => {
    const side = fc.integer({ min: 1, max: 20_000 });
    fc.assert(
      fc.property(side, side, side, side, fc.boolean(), (sw, sh, bw, bh, enlarge) => {
        const b = coverBox(sw, sh, bw, bh, enlarge);
        expect(b.width).toBeLessThanOrEqual(Math.min(bw, b.scaledWidth));
        expect(b.height).toBeLessThanOrEqual(Math.min(bh, b.scaledHeight));
        expect(Math.min(b.width, b.height)).toBeGreaterThanOrEqual(1);
        if (enlarge) expect([b.width, b.height]).toEqual([bw, bh]);
        else expect(b.scaledWidth * b.scaledHeight).toBeLessThanOrEqual(sw * sh);
        if (sw >= bw && sh >= bh) expect([b.width, b.height]).toEqual([bw, bh]);
      }),
    );
  });
});

describe("copyrightFields", () => {
  let block: Buffer;
  beforeAll(async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#fff" } })
      .jpeg()
      .withExif({ IFD0: { Copyright: "(c) Ann", Artist: "Ann" } })
      .toBuffer();
    const exif = (await sharp(jpeg).metadata()).exif;
    if (exif === undefined) throw new Error("sharp wrote no EXIF");
    block = exif;
  });

  /** Byte offset of IFD0's entry for `tag` in the (little-endian) block from sharp. */
  function entryOf(tag: number): number {
    const ifd = 6 + block.readUInt32LE(10);
    for (let i = 0; i < block.readUInt16LE(ifd); i++) {
      const at = ifd + 2 + i * 12;
      if (block.readUInt16LE(at) === tag) return at;
    }
    throw new Error(`no tag ${tag}`);
  }

  it("reads Copyright (stored at an offset) and Artist (stored in the entry) from sharp's EXIF", () => {
    expect(copyrightFields(block)).toEqual({ Copyright: "(c) Ann", Artist: "Ann" });
  });

  it("reads a block without the Exif header, and a big-endian one", () => {
    expect(copyrightFields(block.subarray(6))).toEqual({ Copyright: "(c) Ann", Artist: "Ann" });
    // "MM", 42, IFD at 8; one entry: Artist, ASCII, 4 bytes "Bob\0" in the entry; no next IFD.
    const be = Buffer.from(
      "4d4d002a00000008000101 3b00020000000442 6f620000000000".replace(/ /g, ""),
      "hex",
    );
    expect(copyrightFields(be)).toEqual({ Artist: "Bob" });
  });

  it("returns {} for no block", () => {
    expect(copyrightFields(undefined)).toEqual({});
  });

  it("never throws on a truncated block, and never makes up a value", () => {
    for (let n = 0; n <= block.length; n++) {
      const fields = copyrightFields(block.subarray(0, n));
      for (const [name, value] of Object.entries(fields)) {
        expect({ Copyright: "(c) Ann", Artist: "Ann" }).toHaveProperty(name, value);
      }
      if (n < 16) expect(fields).toEqual({});
    }
  });

  it("never throws on random bytes, with or without a valid header", () => {
    const headers = [[], [...Buffer.from("Exif\0\0II*\0")], [...Buffer.from("MM\0*")]];
    fc.assert(
      fc.property(fc.constantFrom(...headers), fc.uint8Array({ maxLength: 300 }), (h, rest) => {
        const fields = copyrightFields(Buffer.from([...h, ...rest]));
        for (const value of Object.values(fields)) expect(value.length).toBeLessThanOrEqual(4096);
      }),
    );
  });

  it("returns {} when the IFD offset points past the end", () => {
    const bad = Buffer.from(block);
    bad.writeUInt32LE(0xfffffff0, 10);
    expect(copyrightFields(bad)).toEqual({});
    bad.writeUInt32LE(block.length - 7, 10); // one byte short of the entry count
    expect(copyrightFields(bad)).toEqual({});
  });

  it("skips a field whose value offset points past the end, keeping the other", () => {
    const bad = Buffer.from(block);
    bad.writeUInt32LE(block.length, entryOf(0x8298) + 8);
    expect(copyrightFields(bad)).toEqual({ Artist: "Ann" });
    bad.writeUInt32LE(0xffffffff, entryOf(0x8298) + 8);
    expect(copyrightFields(bad)).toEqual({ Artist: "Ann" });
  });

  it("stops at the end of the block when the entry count is too large", () => {
    const bad = Buffer.from(block);
    bad.writeUInt16LE(0xffff, 6 + block.readUInt32LE(10));
    expect(copyrightFields(bad)).toMatchObject({ Copyright: "(c) Ann", Artist: "Ann" });
  });
});

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejection(p: Promise<unknown>): Promise<ImageError> {
  const err = await p.then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
  if (err instanceof ImageError) return err;
  throw err;
}

describe("TransformQueue", () => {
  it("refuses at once with 503 transform_busy when the slots and the queue are full", async () => {
    const q = new TransformQueue({ concurrency: 2, maxQueue: 1, timeoutMs: 10_000 });
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const runs = gates.map((g) => q.run(() => g.promise));
    let fourthStarted = false;
    const e = await rejection(
      q.run(async () => {
        fourthStarted = true;
      }),
    );
    expect([e.code, e.status]).toEqual(["transform_busy", 503]);
    expect(fourthStarted).toBe(false);
    expect([q.running, q.queued]).toEqual([2, 1]);
    for (const [i, g] of gates.entries()) g.resolve(`r${i}`);
    expect(await Promise.all(runs)).toEqual(["r0", "r1", "r2"]);
    expect([q.running, q.queued]).toEqual([0, 0]);
  });

  it("starts queued work when a slot frees, including after a failure", async () => {
    const q = new TransformQueue({ concurrency: 2, maxQueue: 5, timeoutMs: 10_000 });
    const [a, b] = [deferred<string>(), deferred<string>()];
    const started: string[] = [];
    const run = (name: string, p: Promise<string>) =>
      q.run(() => {
        started.push(name);
        return p;
      });
    const ra = run("a", a.promise);
    const rb = run("b", b.promise);
    const rc = run("c", Promise.resolve("c"));
    const rd = run("d", Promise.resolve("d"));
    await sleep(5);
    expect(started).toEqual(["a", "b"]);
    a.reject(new Error("decode failed"));
    await expect(ra).rejects.toThrow("decode failed");
    expect(await rc).toBe("c");
    expect(await rd).toBe("d");
    expect(started).toEqual(["a", "b", "c", "d"]);
    expect(q.running).toBe(1);
    b.resolve("b");
    expect(await rb).toBe("b");
    expect(q.running).toBe(0);
  });

  it("never runs more than `concurrency` at once", async () => {
    const q = new TransformQueue({ concurrency: 2, maxQueue: 20, timeoutMs: 10_000 });
    let active = 0;
    let max = 0;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        q.run(async () => {
          active++;
          max = Math.max(max, active);
          await sleep(2 + (i % 3));
          active--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(max).toBe(2);
  });

  it("times a slow task out at about timeoutMs, but keeps its slot until it settles", async () => {
    const q = new TransformQueue({ concurrency: 1, maxQueue: 5, timeoutMs: 50 });
    const slow = deferred<string>();
    const t0 = performance.now();
    const e = await rejection(q.run(() => slow.promise));
    const elapsed = performance.now() - t0;
    expect([e.code, e.status]).toEqual(["transform_timeout", 503]);
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1_000);

    let nextStarted = false;
    const next = q.run(async () => {
      nextStarted = true;
      return "next";
    });
    await sleep(120); // more than the timeout: the slot is still the slow task's
    expect(nextStarted).toBe(false);
    expect([q.running, q.queued]).toEqual([1, 1]);

    slow.resolve("late");
    // Its own time starts when it starts, not when it was queued.
    expect(await next).toBe("next");
    expect(nextStarted).toBe(true);
    expect(q.running).toBe(0);
  });

  it("a timed-out task that later fails frees its slot without an unhandled rejection", async () => {
    const q = new TransformQueue({ concurrency: 1, maxQueue: 5, timeoutMs: 50 });
    const slow = deferred<string>();
    expect((await rejection(q.run(() => slow.promise))).code).toBe("transform_timeout");
    const next = q.run(async () => "next");
    slow.reject(new Error("libvips stopped"));
    expect(await next).toBe("next");
  });
});
