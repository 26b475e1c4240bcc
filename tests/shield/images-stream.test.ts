/**
 * A variant's source arriving from the origin in pieces (origin-shield/image
 * source-body.ts): its header is read while the rest comes in, and nothing else may
 * change. The variant is byte for byte the one made from the same source already
 * cached; the byte and pixel limits refuse it as they refuse a cached source; and a
 * source whose transfer is cut never leaves a variant behind, for a transform or a
 * conversion.
 */
import type { ServerResponse } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import { photoJpeg } from "../helpers/images.ts";
import { type OriginHandler, sleep } from "../helpers/origin.ts";
import type { TestShield } from "../helpers/shield.ts";
import { decoded, get, transforms } from "./images-support.ts";
import { fill, harness } from "./support.ts";

const h = harness();
const avif = { headers: { accept: "image/avif,image/webp,image/*,*/*;q=0.8" } };

let photo: Buffer; // 400×300, its header in the first few hundred bytes

beforeAll(async () => {
  photo = await photoJpeg({ width: 400, height: 300 });
});

/**
 * Its first 2 KB (the whole header), a pause, then the rest 4 KB at a time. Chunked
 * unless `cutAt` is given: a body under 256 KiB with a Content-Length reaches a variant's
 * fill whole, once it has all arrived (cache/serve-fill.ts), so only a larger or chunked
 * one is read as it arrives.
 */
async function inPieces(res: ServerResponse, body: Buffer, cutAt?: number): Promise<void> {
  res.writeHead(200, {
    "content-type": "image/jpeg",
    ...(cutAt === undefined ? {} : { "content-length": String(body.length) }),
    "cache-control": "public, max-age=600",
  });
  res.write(body.subarray(0, 2_048));
  await sleep(30);
  for (let at = 2_048; at < body.length; at += 4_096) {
    if (cutAt !== undefined && at >= cutAt) {
      // The connection dies mid-body, short of its Content-Length.
      res.destroy();
      return;
    }
    res.write(body.subarray(at, at + 4_096));
    await sleep(2);
  }
  res.end();
}

/** `/pieces/*` arrive in pieces, `/whole/*` at once; both are `photo`. */
const origin: OriginHandler = async (req, res) => {
  if (req.url?.startsWith("/pieces/")) return inPieces(res, photo);
  res.writeHead(200, {
    "content-type": "image/jpeg",
    "content-length": String(photo.length),
    "cache-control": "public, max-age=600",
  });
  res.end(photo);
};

/**
 * What the shield's pipeline is handed: the prefixes probed early, and for each transform
 * whether its header came with it.
 */
function watchHeaders(t: TestShield) {
  const pipeline = t.shield.context.images.pipeline;
  const probed: number[] = [];
  const given: boolean[] = [];
  const probeHeader = pipeline.probeHeader.bind(pipeline);
  const run = pipeline.run.bind(pipeline);
  pipeline.probeHeader = (prefix) => {
    probed.push(prefix.length);
    return probeHeader(prefix);
  };
  pipeline.run = (input, spec, header) => {
    given.push(header !== null && header !== undefined);
    return run(input, spec, header);
  };
  return { probed, given };
}

describe("a source that arrives in pieces", () => {
  it("makes the variant, and the ETag, of the same source already cached", async () => {
    const { t } = await h.start(origin);
    const seen = watchHeaders(t);
    const streamed = await get(t, "/img/width=200,format=webp/pieces/a.jpg");
    // Its header was read from the first piece, and the transform started with it.
    expect(seen.probed).toHaveLength(1);
    expect(seen.probed[0]).toBeLessThan(2_048);
    expect(seen.given).toEqual([true]);
    await fill(t, "/whole/a.jpg");
    const cached = await get(t, "/img/width=200,format=webp/whole/a.jpg");
    // A cached source is read whole: its header is read in the queue, as before.
    expect(seen.probed).toHaveLength(1);
    expect(seen.given).toEqual([true, false]);
    expect([streamed.status, cached.status]).toEqual([200, 200]);
    expect(await decoded(streamed.body)).toEqual({ format: "webp", width: 200, height: 150 });
    expect(streamed.body.equals(cached.body)).toBe(true);
    expect(streamed.res.headers.get("etag")).toBe(cached.res.headers.get("etag"));
  });

  it("a second size of a cached source starts with the header read for the first", async () => {
    const { t } = await h.start(origin);
    const seen = watchHeaders(t);
    await fill(t, "/whole/g.jpg");
    const first = await get(t, "/img/width=200/whole/g.jpg");
    const second = await get(t, "/img/width=100/whole/g.jpg");
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await decoded(second.body)).toEqual({ format: "jpeg", width: 100, height: 75 });
    expect(seen.given).toEqual([false, true]);
    expect(seen.probed).toEqual([]);
  });

  it("is converted to the bytes of the same source already cached", async () => {
    const { t } = await h.start(origin);
    const streamed = await get(t, "/pieces/b.jpg", avif);
    await fill(t, "/whole/b.jpg");
    const cached = await get(t, "/whole/b.jpg", avif);
    expect(streamed.res.headers.get("content-type")).toBe("image/avif");
    expect(streamed.body.equals(cached.body)).toBe(true);
    expect(await transforms(t)).toBe(2);
  });

  it("is refused for its pixels with the message a cached source gets", async () => {
    const { t } = await h.start(origin, { images: { limits: { maxInputPixels: 100_000 } } });
    const streamed = await get(t, "/img/width=200/pieces/c.jpg");
    await fill(t, "/whole/c.jpg");
    const cached = await get(t, "/img/width=200/whole/c.jpg");
    expect([streamed.status, cached.status]).toEqual([413, 413]);
    const streamedError = JSON.parse(streamed.body.toString());
    expect(streamedError.error).toBe("too_many_pixels");
    expect(streamedError).toEqual(JSON.parse(cached.body.toString()));
    expect(await transforms(t, "too_many_pixels")).toBe(2);
  });

  it("over limits.maxInputBytes is 413 source_too_large, its header read or not", async () => {
    const { t } = await h.start(origin, { images: { limits: { maxInputBytes: 10_000 } } });
    expect(photo.length).toBeGreaterThan(10_000);
    for (const path of ["/img/width=200/pieces/d.jpg", "/img/width=100/pieces/d.jpg"]) {
      const r = await get(t, path);
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body.toString()).error).toBe("source_too_large");
    }
    expect(await transforms(t)).toBe(0);
  });
});

describe("a source whose transfer is cut mid-body", () => {
  /** The first fetch of each path is cut after 12 KB; later ones arrive whole. */
  function cutOnce(): OriginHandler {
    const seen = new Set<string>();
    return async (req, res) => {
      const path = req.url ?? "";
      const first = !seen.has(path);
      seen.add(path);
      await inPieces(res, photo, first ? 12_288 : undefined);
    };
  }

  it("never leaves a transform's variant behind", async () => {
    const { origin: o, t } = await h.start(cutOnce());
    const path = "/img/width=200,format=webp/photos/e.jpg";
    const cut = await get(t, path);
    await t.shield.drain();
    expect(cut.status).toBe(502);
    expect(await transforms(t)).toBe(0);
    // Nothing was stored, for the variant or its source: both are fetched and made again.
    const again = await get(t, path);
    expect(again.status).toBe(200);
    expect(again.cs).toMatch(/fwd=uri-miss/);
    expect(await decoded(again.body)).toEqual({ format: "webp", width: 200, height: 150 });
    expect(o.count()).toBe(2);
    expect(await transforms(t)).toBe(1);
  });

  it("never leaves a conversion behind", async () => {
    const { origin: o, t } = await h.start(cutOnce());
    const cut = await get(t, "/photos/f.jpg", avif);
    await t.shield.drain();
    // As when any origin fails mid-body: a bad gateway, nothing stored.
    expect(cut.status).toBe(502);
    expect(await transforms(t)).toBe(0);
    const again = await get(t, "/photos/f.jpg", avif);
    expect(again.status).toBe(200);
    expect(again.cs).toMatch(/fwd=uri-miss/);
    expect(again.res.headers.get("content-type")).toBe("image/avif");
    expect(o.count()).toBe(2);
    expect(await transforms(t)).toBe(1);
  });
});
