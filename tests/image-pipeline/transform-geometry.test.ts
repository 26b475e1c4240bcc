/**
 * The sharp transform's geometry, run for real and checked on the decoded output: fits,
 * sizes, gravity, EXIF orientation, rotate and flip.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { transform } from "../../image-pipeline/transform.ts";
import {
  BLUE,
  decode,
  expectColour,
  GREEN,
  halves,
  meanColour,
  painted,
  RED,
  type Rgb,
  settings,
  sourcePhoto,
  spec,
} from "./support.ts";

let photo: Buffer;
let redBlue: Buffer;

beforeAll(async () => {
  photo = await sourcePhoto();
  redBlue = await halves(400, 300, RED, BLUE);
});

describe("fit", () => {
  it("scale-down never enlarges a small source but shrinks a large one", async () => {
    const big = await transform(photo, spec({ width: "800", height: "600" }), settings);
    const bigMeta = await sharp(big.data).metadata();
    expect([bigMeta.width, bigMeta.height]).toEqual([400, 300]);

    const small = await transform(photo, spec({ width: "200", height: "200" }), settings);
    const smallMeta = await sharp(small.data).metadata();
    expect([smallMeta.width, smallMeta.height]).toEqual([200, 150]);
    expect([small.width, small.height]).toEqual([200, 150]);
  });

  it("contain enlarges to fit inside the box, keeping the aspect ratio", async () => {
    const out = await transform(
      photo,
      spec({ width: "800", height: "800", fit: "contain" }),
      settings,
    );
    const meta = await sharp(out.data).metadata();
    expect([meta.width, meta.height]).toEqual([800, 600]);
  });

  it("cover fills the exact box and crops (not distorts) the overflow", async () => {
    // Red on the left quarter: scaled to 267×200 and centre-cropped to 200, only the
    // leftmost 33 px stay red. A squeeze would keep 50 px red.
    const src = await painted(400, 300, BLUE, [
      { left: 0, top: 0, width: 100, height: 300, colour: RED },
    ]);
    const out = await transform(src, spec({ width: "200", height: "200", fit: "cover" }), settings);
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([200, 200]);
    expectColour(px.at(10, 100), RED);
    expectColour(px.at(42, 100), BLUE);

    // Cover also enlarges: a 400×300 source into 800×800 is 800×800.
    const up = await transform(
      photo,
      spec({ width: "800", height: "800", fit: "cover" }),
      settings,
    );
    const upMeta = await sharp(up.data).metadata();
    expect([upMeta.width, upMeta.height]).toEqual([800, 800]);
  });

  it("crop fills the box without enlarging: a side shorter than the box stays as it is", async () => {
    // scale = min(1, max(640/400, 200/300)) = 1 → 400×300, cut to min(640,400)×min(200,300).
    const src = await painted(400, 300, BLUE, [
      { left: 0, top: 0, width: 400, height: 40, colour: RED },
    ]);
    const out = await transform(src, spec({ width: "640", height: "200", fit: "crop" }), settings);
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([400, 200]);
    expect([out.width, out.height]).toEqual([400, 200]);
    // Centre crop: rows 50..250 of the source; the red top band (rows 0..40) is cut away.
    expectColour(px.at(200, 2), BLUE);

    // A box smaller than the source: scale = max(200/400, 200/300) → 267×200 → 200×200.
    const down = await transform(
      photo,
      spec({ width: "200", height: "200", fit: "crop" }),
      settings,
    );
    const downMeta = await sharp(down.data).metadata();
    expect([downMeta.width, downMeta.height]).toEqual([200, 200]);
  });

  it("pad gives the exact box with the background colour in the padding", async () => {
    const src = await painted(400, 300, GREEN);
    const out = await transform(
      src,
      spec({ width: "800", height: "800", fit: "pad", background: "%23ff0000" }),
      settings,
    );
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([800, 800]);
    // 800×600 image centred: 100 rows of padding above and below.
    expectColour(px.at(400, 10), RED);
    expectColour(px.at(400, 790), RED);
    expectColour(px.at(400, 400), GREEN);
    expectColour(px.at(5, 400), GREEN);
  });

  it("squeeze gives the exact box, distorting the aspect ratio instead of cropping", async () => {
    const src = await painted(400, 300, BLUE, [
      { left: 0, top: 0, width: 100, height: 300, colour: RED },
    ]);
    const out = await transform(
      src,
      spec({ width: "200", height: "200", fit: "squeeze" }),
      settings,
    );
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([200, 200]);
    // The red quarter is squeezed to 50 px, all of it kept (cover would keep 33 px).
    expectColour(px.at(42, 100), RED);
    expectColour(px.at(58, 100), BLUE);
  });
});

describe("size", () => {
  it("width alone and height alone keep the aspect ratio", async () => {
    const w = await sharp(
      (await transform(photo, spec({ width: "200" }), settings)).data,
    ).metadata();
    expect([w.width, w.height]).toEqual([200, 150]);
    const h = await sharp(
      (await transform(photo, spec({ height: "240" }), settings)).data,
    ).metadata();
    expect([h.width, h.height]).toEqual([320, 240]);
  });

  it("dpr=2 doubles the output size", async () => {
    const one = await transform(photo, spec({ width: "80" }), settings);
    const two = await transform(photo, spec({ width: "80", dpr: "2" }), settings);
    const [m1, m2] = await Promise.all([sharp(one.data).metadata(), sharp(two.data).metadata()]);
    expect([m1.width, m1.height]).toEqual([80, 60]);
    expect([m2.width, m2.height]).toEqual([160, 120]);
  });

  it("a source larger than the output limit comes out within it when no size is asked", async () => {
    const bounded = { ...settings, maxOutputWidth: 256, maxOutputHeight: 256 };
    const out = await transform(photo, spec(), bounded);
    const meta = await sharp(out.data).metadata();
    expect(meta.width).toBeLessThanOrEqual(256);
    expect(meta.height).toBeLessThanOrEqual(256);
    expect([meta.width, meta.height]).toEqual([256, 192]);

    // A 1:25 strip asked only for its width is bounded in height as well.
    const strip = await painted(40, 1000, GREEN);
    const tall = await transform(strip, spec({ width: "32", fit: "contain" }), bounded);
    const tallMeta = await sharp(tall.data).metadata();
    expect(tallMeta.height).toBeLessThanOrEqual(256);
  });
});

describe("gravity (fit=cover, left half red, right half blue)", () => {
  const crop = async (gravity: string): Promise<Rgb> => {
    // 400×300 into 160×300: no scaling, a 160-px-wide window chosen by gravity.
    const out = await transform(
      redBlue,
      spec({ width: "160", height: "300", fit: "cover", gravity }),
      settings,
    );
    const meta = await sharp(out.data).metadata();
    expect([meta.width, meta.height]).toEqual([160, 300]);
    return meanColour(out.data);
  };

  it("gravity=left keeps the red half", async () => {
    expectColour(await crop("left"), RED, 10);
  });

  it("gravity=right keeps the blue half", async () => {
    expectColour(await crop("right"), BLUE, 10);
  });

  it("a focal point at 0.9x0.5 keeps the blue half, 0.1x0.5 the red", async () => {
    expectColour(await crop("0.9x0.5"), BLUE, 10);
    expectColour(await crop("0.1x0.5"), RED, 10);
  });

  it("the default (center) keeps both colours", async () => {
    const px = await decode(
      (await transform(redBlue, spec({ width: "160", height: "300", fit: "cover" }), settings))
        .data,
    );
    expectColour(px.at(5, 150), RED);
    expectColour(px.at(155, 150), BLUE);
  });
});

describe("orientation, rotate and flip", () => {
  it("applies EXIF orientation: landscape pixels tagged 6 come out portrait, untagged", async () => {
    // Stored 40×20, left red / right blue; orientation 6 displays it turned 90° clockwise,
    // so red on top.
    const tagged = await sharp(await halves(40, 20, RED, BLUE))
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(tagged).metadata()).orientation).toBe(6);

    const options: Record<string, string>[] = [
      {},
      { format: "webp" },
      { metadata: "keep" },
      { metadata: "copyright" },
    ];
    for (const o of options) {
      const out = await transform(tagged, spec(o), settings);
      const meta = await sharp(out.data).metadata();
      expect([meta.width, meta.height], JSON.stringify(o)).toEqual([20, 40]);
      expect([undefined, 1], JSON.stringify(o)).toContain(meta.orientation);
      const px = await decode(out.data);
      expectColour(px.at(10, 5), RED);
      expectColour(px.at(10, 35), BLUE);
    }
  });

  it("rotate=90 turns the image a quarter clockwise", async () => {
    const out = await transform(await halves(40, 20, RED, BLUE), spec({ rotate: "90" }), settings);
    const px = await decode(out.data);
    expect([px.width, px.height]).toEqual([20, 40]);
    expectColour(px.at(10, 5), RED);
    expectColour(px.at(10, 35), BLUE);
  });

  it("rotate=90 sizes the rotated image: width applies to the axis after rotation", async () => {
    const out = await transform(photo, spec({ rotate: "90", width: "150" }), settings);
    const meta = await sharp(out.data).metadata();
    // 400×300 turned is 300×400; width 160 (the step for 150) → 160×213.
    expect([meta.width, meta.height]).toEqual([160, 213]);
  });

  it("flip=h mirrors left and right, flip=v top and bottom", async () => {
    const h = await decode(
      (await transform(await halves(40, 20, RED, BLUE), spec({ flip: "h" }), settings)).data,
    );
    expect([h.width, h.height]).toEqual([40, 20]);
    expectColour(h.at(5, 10), BLUE);
    expectColour(h.at(35, 10), RED);

    const topRed = await painted(40, 20, BLUE, [
      { left: 0, top: 0, width: 40, height: 10, colour: RED },
    ]);
    const v = await decode((await transform(topRed, spec({ flip: "v" }), settings)).data);
    expectColour(v.at(20, 3), BLUE);
    expectColour(v.at(20, 17), RED);
  });
});
