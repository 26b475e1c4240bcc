/**
 * Automatic conversion of plain image paths (images.convert "auto"), through the shield
 * against a loopback origin that has only JPEG, PNG and GIF: AVIF and WebP clients get the
 * source converted (no resize), keyed and stored per format, collapsed, with Vary: Accept;
 * a conversion that is not smaller serves the original and is not encoded again; what
 * the origin already serves as AVIF or WebP, and anything that is not a convertible
 * image, goes out as the origin sent it; purging the source purges its conversions.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { photoJpeg, photoRaster } from "../helpers/images.ts";
import type { TestShield } from "../helpers/shield.ts";
import { decoded, get, imageOrigin, transforms } from "./images-support.ts";
import { fill, harness } from "./support.ts";

const h = harness();
const AVIF_CLIENT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
const WEBP_CLIENT = "image/webp,image/*,*/*;q=0.8";
const avif = { headers: { accept: AVIF_CLIENT } };
const webp = { headers: { accept: WEBP_CLIENT } };

let jpeg: Buffer; // 400×300 photo
let png: Buffer; // 320×240 photo, lossless
let checker: Buffer; // 256×256 one-pixel checkerboard, two colours: tiny as PNG, not as AVIF or WebP
let gif: Buffer; // 160×120, three frames

beforeAll(async () => {
  jpeg = await photoJpeg({ width: 400, height: 300 });
  png = await photoRaster({ width: 320, height: 240 });
  const raw = Buffer.alloc(256 * 256);
  for (let at = 0; at < raw.length; at++)
    raw[at] = ((at % 256) + Math.floor(at / 256)) % 2 ? 255 : 0;
  checker = await sharp(raw, { raw: { width: 256, height: 256, channels: 1 } })
    .png({ palette: true, colours: 2 })
    .toBuffer();
  const frames = await Promise.all(
    [1, 2, 3].map(async (seed) =>
      sharp(await photoRaster({ width: 160, height: 120, seed }))
        .ensureAlpha()
        .raw()
        .toBuffer(),
    ),
  );
  gif = await sharp(Buffer.concat(frames), {
    raw: { width: 160, height: 360, channels: 4, pageHeight: 120 },
  })
    .gif({ delay: [100, 100, 100], loop: 0 })
    .toBuffer();
});

function isAvif(body: Buffer): boolean {
  return body.toString("latin1", 4, 12) === "ftypavif";
}

function isWebp(body: Buffer): boolean {
  return body.toString("latin1", 0, 4) === "RIFF" && body.toString("latin1", 8, 12) === "WEBP";
}

/** Encodes run for conversions: made, or made and thrown away as not smaller. */
async function encodes(t: TestShield): Promise<number> {
  return (await transforms(t, "ok")) + (await transforms(t, "kept_original"));
}

describe("a JPEG, PNG or GIF under images.paths", () => {
  it("is converted to AVIF or WebP by Accept, stored per format, with Vary: Accept; other clients get the original", async () => {
    const { origin, t } = await h.start(
      imageOrigin({
        "/photos/a.jpg": { body: jpeg },
        "/photos/b.png": { body: png, type: "image/png" },
      }),
    );
    for (const round of ["miss", "hit"]) {
      const a = await get(t, "/photos/a.jpg", avif);
      await t.shield.drain();
      expect(a.status).toBe(200);
      expect(a.res.headers.get("content-type")).toBe("image/avif");
      expect(a.res.headers.get("vary")).toBe("accept");
      expect(a.res.headers.get("cache-control")).toBe("public, max-age=600");
      expect(isAvif(a.body)).toBe(true);
      expect(a.body.length).toBeLessThan(jpeg.length);
      // No resize: the source's own size.
      expect(await decoded(a.body)).toEqual({ format: "heif", width: 400, height: 300 });

      const w = await get(t, "/photos/a.jpg", webp);
      await t.shield.drain();
      expect(w.res.headers.get("content-type")).toBe("image/webp");
      expect(w.res.headers.get("vary")).toBe("accept");
      expect(isWebp(w.body)).toBe(true);
      expect(await decoded(w.body)).toEqual({ format: "webp", width: 400, height: 300 });

      const p = await get(t, "/photos/b.png", avif);
      await t.shield.drain();
      expect(isAvif(p.body)).toBe(true);
      expect(await decoded(p.body)).toEqual({ format: "heif", width: 320, height: 240 });

      const plain = await get(t, "/photos/a.jpg", { headers: { accept: "*/*" } });
      await t.shield.drain();
      expect(plain.res.headers.get("content-type")).toBe("image/jpeg");
      expect(plain.body.equals(jpeg)).toBe(true);
      if (round === "hit") {
        for (const r of [a, w, p, plain]) expect(r.cs).toMatch(/^shield; hit/);
      }
    }
    // What the edge forwards (one media type) is the same variant.
    expect((await get(t, "/photos/a.jpg", { headers: { accept: "image/avif" } })).cs).toMatch(
      /^shield; hit/,
    );
    expect(await transforms(t)).toBe(3);
    // One fetch per source: the conversions and the plain client share it.
    expect(origin.requests.map((r) => r.url).sort()).toEqual(["/photos/a.jpg", "/photos/b.png"]);
    expect(origin.requests[0]?.headers.accept).toMatch(/^image\/(avif|webp)$/);
  });

  it("a herd of AVIF clients makes one origin fetch and one encode", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: jpeg } }, 200));
    const all = await Promise.all(Array.from({ length: 30 }, () => get(t, "/photos/a.jpg", avif)));
    for (const r of all) {
      expect(r.status).toBe(200);
      expect(r.res.headers.get("content-type")).toBe("image/avif");
      expect(r.body.equals(all[0]?.body as Buffer)).toBe(true);
    }
    expect(all.filter((r) => r.cs.includes("collapsed")).length).toBe(29);
    expect(origin.count()).toBe(1);
    expect(await encodes(t)).toBe(1);
  });

  it("an animated GIF stays animated (as WebP, for AVIF clients too)", async () => {
    const { t } = await h.start(imageOrigin({ "/anim/a.gif": { body: gif, type: "image/gif" } }), {
      images: { paths: ["/**/*.gif"] },
    });
    for (const init of [avif, webp]) {
      const r = await get(t, "/anim/a.gif", init);
      expect(r.res.headers.get("content-type")).toBe("image/webp");
      expect(r.body.length).toBeLessThan(gif.length);
      const meta = await sharp(r.body, { animated: true }).metadata();
      expect([meta.format, meta.pages, meta.width, meta.pageHeight]).toEqual(["webp", 3, 160, 120]);
    }
  });
});

describe("a conversion that is not smaller", () => {
  it("serves the original, remembered: no second encode while the source is unchanged", async () => {
    const files = {
      "/icons/c.png": { body: checker, type: "image/png", cacheControl: "max-age=60" },
    };
    const { origin, t } = await h.start(imageOrigin(files));
    const first = await fill(t, "/icons/c.png", avif);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("content-type")).toBe("image/png");
    expect(first.res.headers.get("vary")).toBe("accept");
    expect(first.res.headers.get("cache-status")).toBe(
      "shield; fwd=uri-miss; fwd-status=200; stored",
    );
    const again = await get(t, "/icons/c.png", avif);
    expect(again.cs).toMatch(/^shield; hit/);
    expect(again.body.equals(checker)).toBe(true);
    expect(await transforms(t, "kept_original")).toBe(1);
    expect(await transforms(t, "ok")).toBe(0);

    // Stale: the source is fetched again, the same bytes answer the variant's validator.
    t.advance(61_000);
    const revalidated = await get(t, "/icons/c.png", avif);
    expect(revalidated.cs).toBe("shield; fwd=stale; fwd-status=304; stored");
    expect(revalidated.body.equals(checker)).toBe(true);
    expect(origin.count()).toBe(2);
    expect(await transforms(t, "not_modified")).toBe(1);
    expect(await encodes(t)).toBe(1);
  });
});

describe("sources passed through untouched", () => {
  it("an origin that serves AVIF and WebP itself: its bytes, not re-encoded", async () => {
    const own = {
      avif: await sharp(jpeg).avif({ quality: 40 }).toBuffer(),
      webp: await sharp(jpeg).webp({ quality: 40 }).toBuffer(),
    };
    const { origin, t } = await h.start((req, res) => {
      const accept = req.headers.accept ?? "";
      const format = accept.includes("image/avif")
        ? "avif"
        : accept.includes("image/webp")
          ? "webp"
          : null;
      res.writeHead(200, {
        "content-type": format === null ? "image/jpeg" : `image/${format}`,
        "cache-control": "public, max-age=600",
        vary: "Accept",
      });
      res.end(format === null ? jpeg : own[format]);
    });
    const a = await get(t, "/photos/a.jpg", avif);
    const w = await get(t, "/photos/a.jpg", webp);
    expect(a.res.headers.get("content-type")).toBe("image/avif");
    expect(a.body.equals(own.avif)).toBe(true);
    expect(w.res.headers.get("content-type")).toBe("image/webp");
    expect(w.body.equals(own.webp)).toBe(true);
    expect(await transforms(t, "passed_through")).toBe(2);
    expect(await encodes(t)).toBe(0);
    expect(origin.count()).toBe(2);
  });

  it("a WebP the origin labels as such under a .jpg path", async () => {
    const body = await sharp(jpeg).webp().toBuffer();
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body, type: "image/webp" } }));
    const r = await get(t, "/photos/a.jpg", avif);
    expect(r.res.headers.get("content-type")).toBe("image/webp");
    expect(r.body.equals(body)).toBe(true);
    expect(await encodes(t)).toBe(0);
  });

  it('with images.convert "off", the origin\'s JPEG', async () => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: jpeg } }), {
      images: { convert: "off" },
    });
    const r = await get(t, "/photos/a.jpg", avif);
    expect(r.res.headers.get("content-type")).toBe("image/jpeg");
    expect(r.body.equals(jpeg)).toBe(true);
    expect(await encodes(t)).toBe(0);
  });

  it.each([
    ["names no modern format", "image/jpeg,image/png,*/*;q=0.8"],
    ["names them with q=0", "image/avif;q=0,image/webp;q=0,*/*"],
    ["sends no Accept", ""],
  ])("a client whose Accept %s gets the original", async (_why, accept) => {
    const { t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: jpeg } }));
    const r = await get(t, "/photos/a.jpg", { headers: { accept } });
    expect(r.res.headers.get("content-type")).toBe("image/jpeg");
    expect(r.body.equals(jpeg)).toBe(true);
    expect(await encodes(t)).toBe(0);
  });
});

describe("purge", () => {
  const TOKEN = "purge-token-0123456789";

  it("of the source removes its conversions", async () => {
    const { origin, t } = await h.start(imageOrigin({ "/photos/a.jpg": { body: jpeg } }), {
      shield: { purgeToken: TOKEN },
    });
    await fill(t, "/photos/a.jpg", avif);
    await fill(t, "/photos/a.jpg", webp);
    expect((await get(t, "/photos/a.jpg", avif)).cs).toMatch(/^shield; hit/);
    const res = await t.request("/__shield/purge", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ urls: ["http://example.com/photos/a.jpg"] }),
    });
    expect(res.status).toBe(200);
    // The source and its two conversions.
    expect(((await res.json()) as { purged: { local: number } }).purged.local).toBe(3);
    for (const init of [avif, webp]) {
      const after = await get(t, "/photos/a.jpg", init);
      await t.shield.drain();
      expect(after.cs).toMatch(/^shield; fwd=uri-miss/);
    }
    expect(origin.count()).toBe(2);
    expect(await transforms(t)).toBe(4);
  });
});
