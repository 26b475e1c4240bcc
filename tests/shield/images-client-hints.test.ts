/**
 * Client Hints and signed URLs at the shield, for requests that reach it directly and
 * for what the edge forwards: width=auto and dpr=auto resolve from the same hints the
 * same way as at the edge (core/variant resolveAutoSize), so the variant is keyed by the
 * concrete step and the URL the edge would forward for it hits the same entry; and a URL
 * signed with autos is accepted in the concrete form the edge forwards, and no other.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { formatTransformPath, parseTransformPath } from "../../core/variant/index.ts";
import { signTransform } from "../../image-pipeline/signing.ts";
import { photoJpeg } from "../helpers/images.ts";
import { get, imageOrigin, transforms, width } from "./images-support.ts";
import { harness } from "./support.ts";

const h = harness();

const WIDTH_VARY = "Sec-CH-Width, Width, Sec-CH-Viewport-Width, Viewport-Width, Sec-CH-DPR, DPR";

let photo: Buffer; // 1600×1200

beforeAll(async () => {
  const small = await photoJpeg({ width: 400, height: 300 });
  photo = await sharp(small).resize(1600, 1200).jpeg({ quality: 85 }).toBuffer();
});

const files = () => imageOrigin({ "/photos/a.jpg": { body: photo } });

describe("width=auto and dpr=auto in a request that reaches the shield directly", () => {
  it("take Sec-CH-Width, rounded up to a step, and key the variant by it", async () => {
    const { origin, t } = await h.start(files());
    const auto = "/img/format=webp,width=auto/photos/a.jpg";
    const first = await get(t, auto, { headers: { "sec-ch-width": "700" } });
    expect(first.status).toBe(200);
    expect(await width(first.body)).toBe(720);
    expect(first.res.headers.get("vary")).toBe(WIDTH_VARY);
    await t.shield.drain();
    // Another width of the step, and the concrete URL the edge would forward: one entry.
    const again = await get(t, auto, { headers: { width: "710" } });
    expect(again.cs).toMatch(/^shield; hit/);
    const concrete = await get(t, "/img/format=webp,width=720/photos/a.jpg");
    expect(concrete.cs).toMatch(/^shield; hit/);
    expect(concrete.res.headers.get("vary")).toBeNull();
    expect(await transforms(t)).toBe(1);
    expect(origin.count()).toBe(1);
  });

  it.each<[string, string, Record<string, string>, number]>([
    ["no hints: no resize", "/img/format=webp,width=auto/photos/a.jpg", {}, 1600],
    [
      "the viewport width × DPR",
      "/img/format=webp,width=auto/photos/a.jpg",
      { "sec-ch-viewport-width": "400", "sec-ch-dpr": "2" },
      800,
    ],
    [
      "dpr=auto from Sec-CH-DPR, rounded up to a step",
      "/img/dpr=auto,format=webp,width=200/photos/a.jpg",
      { "sec-ch-dpr": "1.3" },
      300,
    ],
    [
      "dpr=auto from the legacy DPR",
      "/img/dpr=auto,format=webp,width=200/photos/a.jpg",
      { dpr: "2" },
      400,
    ],
    [
      "dpr=auto beside a hinted width=auto adds nothing",
      "/img/dpr=auto,format=webp,width=auto/photos/a.jpg",
      { "sec-ch-width": "480", "sec-ch-dpr": "3" },
      480,
    ],
  ])("%s", async (_, path, headers, expected) => {
    const { t } = await h.start(files());
    const res = await get(t, path, { headers });
    expect(res.status).toBe(200);
    expect(await width(res.body)).toBe(expected);
  });

  it("varies on Accept and the hints for format=auto,width=auto", async () => {
    const { t } = await h.start(files());
    const res = await get(t, "/img/f=auto,w=auto/photos/a.jpg", {
      headers: { accept: "image/webp,*/*", "sec-ch-width": "300" },
    });
    expect(res.res.headers.get("content-type")).toBe("image/webp");
    expect(await width(res.body)).toBe(300);
    expect(res.res.headers.get("vary")).toBe(`accept, ${WIDTH_VARY}`);
  });

  it("ignores or clamps hostile hints: never a 500, never more variants than steps", async () => {
    const { t } = await h.start(files());
    const auto = "/img/format=webp,width=auto/photos/a.jpg";
    const hostile: Record<string, string>[] = [
      { "sec-ch-width": "-1" },
      { "sec-ch-width": "1e9" },
      { "sec-ch-width": "9".repeat(5_000) },
      { "sec-ch-width": "999999999" },
      { "sec-ch-dpr": "NaN", "sec-ch-viewport-width": "0x10" },
      { "sec-ch-dpr": "100000", "sec-ch-viewport-width": "100000" },
    ];
    for (const headers of hostile) {
      const res = await get(t, auto, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(200);
      // The largest step (3840) is wider than the source, which is never enlarged.
      expect(await width(res.body)).toBe(1600);
    }
    // Malformed is as none (no width), the clamped ones the largest step: two variants.
    expect(await transforms(t)).toBe(2);
  });
});

describe("signed URLs with autos at the shield", () => {
  const SECRET = "a-signing-secret-of-32-characters!";
  const signing = { images: { signing: { secret: SECRET } } };

  function signed(path: string): string {
    const parsed = parseTransformPath(path, "/img/");
    if (!parsed.ok) throw new Error(parsed.message);
    const options = new Map(parsed.transform.options);
    options.set("sig", signTransform("/img/", parsed.transform, "", SECRET));
    const sorted = new Map([...options].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return formatTransformPath("/img/", { options: sorted, source: parsed.transform.source });
  }

  it("accept the concrete URL the edge forwards for a width=auto signature", async () => {
    const { t } = await h.start(files(), signing);
    const auto = signed("/img/dpr=auto,format=webp,width=auto/photos/a.jpg");
    // As the edge forwards it for Sec-CH-Width: 700 (dpr=auto left out beside it).
    const forwarded = auto.replace("dpr=auto,", "").replace("width=auto", "width=720");
    const res = await get(t, forwarded);
    expect(res.status).toBe(200);
    expect(await width(res.body)).toBe(720);
    // And for no width hint and Sec-CH-DPR: 2.
    const ratio = await get(t, auto.replace("dpr=auto", "dpr=2").replace(",width=auto", ""));
    expect(res.status).toBe(200);
    expect(ratio.status).toBe(200);
  });

  it("refuse a width auto never gives, a dpr beside a hinted width, and a forged signature, unfetched", async () => {
    const { origin, t } = await h.start(files(), signing);
    const auto = signed("/img/dpr=auto,format=webp,width=auto/photos/a.jpg");
    for (const path of [
      auto.replace("dpr=auto,", "").replace("width=auto", "width=700"),
      auto.replace("dpr=auto", "dpr=2").replace("width=auto", "width=720"),
      auto.replace(/sig=[^,/]+/, `sig=${"A".repeat(43)}`),
    ]) {
      const res = await get(t, path);
      expect(res.status, path).toBe(403);
      expect(JSON.parse(res.body.toString())).toMatchObject({
        error: "bad_signature",
        option: "sig",
      });
    }
    expect(origin.count()).toBe(0);
  });
});
