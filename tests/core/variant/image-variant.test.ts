import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ImagesConfig, parseConfig } from "../../../core/config/index.ts";
import {
  type ImageFormat,
  isNegotiableImagePath,
  mediaTypeOf,
  negotiateFormat,
  originalFormatFromPath,
  roundDpr,
  roundWidth,
  variantId,
} from "../../../core/variant/index.ts";

function images(patch: Record<string, unknown> = {}): ImagesConfig {
  return parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }],
    images: patch,
  }).images;
}

const DEFAULT = images();

// Real browser Accept headers for images.
const CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const FIREFOX_OLD = "image/webp,*/*";
const SAFARI_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5";
const SAFARI_13 = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5";
const IE11 = "image/png, image/svg+xml, image/jxr, image/*;q=0.8, */*;q=0.5";

describe("negotiateFormat", () => {
  const cases: [
    name: string,
    accept: string | null | undefined,
    original: ImageFormat,
    config: ImagesConfig,
    expected: ImageFormat,
  ][] = [
    ["Chrome gets AVIF (first configured format it names)", CHROME, "jpeg", DEFAULT, "avif"],
    ["Firefox before AVIF gets WebP", FIREFOX_OLD, "jpeg", DEFAULT, "webp"],
    ["Safari 15 gets WebP", SAFARI_15, "png", DEFAULT, "webp"],
    [
      "Safari 13 (image/* only) keeps the original: wildcards do not count",
      SAFARI_13,
      "jpeg",
      DEFAULT,
      "jpeg",
    ],
    ["IE 11 keeps the original", IE11, "png", DEFAULT, "png"],
    [
      "*/* alone keeps the original (old browsers send it without WebP support)",
      "*/*",
      "jpeg",
      DEFAULT,
      "jpeg",
    ],
    ["image/* alone keeps the original", "image/*", "jpeg", DEFAULT, "jpeg"],
    ["no Accept keeps the original", null, "jpeg", DEFAULT, "jpeg"],
    ["an empty Accept keeps the original", "", "png", DEFAULT, "png"],
    ["a malformed Accept keeps the original", ";;;,,,", "jpeg", DEFAULT, "jpeg"],
    [
      "image/avif;q=0 is a refusal (RFC 9110 §12.4.2)",
      "image/avif;q=0, image/webp",
      "jpeg",
      DEFAULT,
      "webp",
    ],
    ["both refused: the original", "image/avif;q=0, image/webp;q=0, */*", "jpeg", DEFAULT, "jpeg"],
    [
      "the highest q wins over configured order",
      "image/avif;q=0.5, image/webp;q=0.9",
      "jpeg",
      DEFAULT,
      "webp",
    ],
    ["equal q: configured order breaks the tie", "image/webp, image/avif", "jpeg", DEFAULT, "avif"],
    [
      "equal q with webp preferred in config",
      "image/avif,image/webp",
      "jpeg",
      images({ formats: ["webp", "avif"] }),
      "webp",
    ],
    [
      "a format not configured is never chosen",
      "image/avif",
      "jpeg",
      images({ formats: ["webp"] }),
      "jpeg",
    ],
    ["no formats configured: negotiation is off", CHROME, "jpeg", images({ formats: [] }), "jpeg"],
    ["media types are case-insensitive (RFC 9110 §8.3.1)", "IMAGE/AVIF", "jpeg", DEFAULT, "avif"],
    [
      "a range with a parameter does not match a parameterless format",
      "image/avif;profile=x",
      "jpeg",
      DEFAULT,
      "jpeg",
    ],
    [
      "a GIF original stays GIF for a client without modern formats",
      "image/*",
      "gif",
      DEFAULT,
      "gif",
    ],
    [
      "an AVIF original for a client that names AVIF stays AVIF",
      "image/avif",
      "avif",
      DEFAULT,
      "avif",
    ],
    ["an AVIF original for a WebP-only client becomes WebP", FIREFOX_OLD, "avif", DEFAULT, "webp"],
    [
      "an AVIF original is never sent to a client without image/avif: PNG instead",
      SAFARI_13,
      "avif",
      DEFAULT,
      "png",
    ],
    [
      "a WebP original is never sent to a client without image/webp: PNG instead",
      "*/*",
      "webp",
      DEFAULT,
      "png",
    ],
    [
      "a WebP original with webp not configured but accepted stays WebP",
      "image/webp",
      "webp",
      images({ formats: ["avif"] }),
      "webp",
    ],
  ];
  it.each(cases)("%s", (_name, accept, original, config, expected) => {
    expect(negotiateFormat(accept, original, config)).toBe(expected);
  });

  it("never returns a format the Accept did not explicitly allow with q > 0 (property)", () => {
    const range = fc.oneof(
      fc.constantFrom(
        "image/avif",
        "image/webp",
        "image/png",
        "image/jpeg",
        "image/*",
        "*/*",
        "text/html",
        "IMAGE/WEBP",
        "image/avif;x=1",
      ),
      fc.stringMatching(/^[a-z/*;=.0-9 ]{0,12}$/),
    );
    const q = fc.constantFrom(
      "",
      ";q=0",
      ";q=0.0",
      ";q=0.001",
      ";q=0.5",
      ";q=1",
      ";q=1.5",
      ";q=abc",
      "; q=0.8",
      ";;q=0.2",
    );
    const accept = fc
      .array(
        fc.tuple(range, q).map(([r, w]) => r + w),
        { maxLength: 6 },
      )
      .map((a) => a.join(","));
    const original = fc.constantFrom<ImageFormat>("avif", "webp", "jpeg", "png", "gif");
    const formats = fc
      .subarray(["avif", "webp"] as const)
      .chain((f) => fc.shuffledSubarray([...f], { minLength: f.length }));
    // An independent reading of "explicitly allowed": a member naming exactly image/<format>,
    // with no parameter but a valid q, gives q > 0, and no such member refuses it with q=0.
    const explicitlyAllowed = (header: string, format: string) => {
      const qs: number[] = [];
      for (const member of header.split(",")) {
        const [type, ...params] = member.split(";").map((p) => p.trim().toLowerCase());
        if (type !== `image/${format}`) continue;
        let weight = 1;
        let usable = true;
        for (const p of params.filter((x) => x !== "")) {
          const m = /^q=(0(\.\d{0,3})?|1(\.0{0,3})?)$/.exec(p);
          if (m === null) usable = false;
          else weight = Number(m[1]);
        }
        if (usable) qs.push(weight);
      }
      return qs.length > 0 && Math.min(...qs) > 0;
    };
    fc.assert(
      fc.property(accept, original, formats, (header, orig, fmts) => {
        const config = images({ formats: [...fmts] });
        const chosen = negotiateFormat(header, orig, config);
        if (chosen === "avif" || chosen === "webp") {
          expect(explicitlyAllowed(header, chosen), `${chosen} for Accept: ${header}`).toBe(true);
        }
        if (chosen !== orig)
          expect(chosen === "png" || (fmts as string[]).includes(chosen)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe("isNegotiableImagePath", () => {
  const cases: [name: string, path: string, config: ImagesConfig, expected: boolean][] = [
    ["a .jpg at the top level", "/a.jpg", DEFAULT, true],
    ["a .jpeg deep in the tree", "/a/b/c/photo.jpeg", DEFAULT, true],
    ["a .png", "/logo.png", DEFAULT, true],
    ["an upper-case extension (cameras write .JPG)", "/DCIM/IMG_0001.JPG", DEFAULT, true],
    ["a .gif is not negotiable by default (animation)", "/anim.gif", DEFAULT, false],
    ["a .webp is not negotiable by default", "/a.webp", DEFAULT, false],
    ["an HTML page is not", "/index.html", DEFAULT, false],
    ["a directory named .jpg is not", "/a.jpg/index.html", DEFAULT, false],
    [
      "a configured glob limits negotiation to a folder",
      "/media/a.jpg",
      images({ paths: ["/media/**"] }),
      true,
    ],
    [
      "outside the configured folder it is not",
      "/other/a.jpg",
      images({ paths: ["/media/**"] }),
      false,
    ],
    ["no globs: nothing is negotiable", "/a.jpg", images({ paths: [] }), false],
  ];
  it.each(cases)("%s", (_name, path, config, expected) => {
    expect(isNegotiableImagePath(path, config)).toBe(expected);
  });
});

describe("roundWidth / roundDpr", () => {
  const widths: [width: number, expected: number][] = [
    [1, 16],
    [160, 160],
    [161, 200],
    [700, 720],
    [1920, 1920],
    [3840, 3840],
    [5000, 3840],
    [0, 16],
    [-5, 16],
    [Number.NaN, 16],
    [Number.POSITIVE_INFINITY, 3840],
    [640.5, 720],
  ];
  it.each(widths)(
    "width %d rounds up to the step %d (never below what was asked, capped)",
    (w, expected) => {
      expect(roundWidth(w, DEFAULT.widths)).toBe(expected);
    },
  );

  const dprs: [dpr: number, expected: number][] = [
    [1, 1],
    [0.5, 1],
    [1.25, 1.5],
    [1.5, 1.5],
    [1.75, 2],
    [2.625, 3],
    [3, 3],
    [4, 3],
    [Number.NaN, 1],
  ];
  it.each(dprs)("dpr %d rounds up to %d, capped at the largest step", (d, expected) => {
    expect(roundDpr(d, DEFAULT.dprs)).toBe(expected);
  });

  it("a rounded width is always a configured step, ≥ the request unless above all steps", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), (w) => {
        const r = roundWidth(w, DEFAULT.widths);
        expect(DEFAULT.widths).toContain(r);
        expect(r >= w || r === 3840).toBe(true);
      }),
    );
  });
});

describe("variantId", () => {
  const cases: [variant: Parameters<typeof variantId>[0], id: string][] = [
    [{ format: "avif" }, "avif"],
    [{ format: "webp", width: 640 }, "webp;w=640"],
    [{ format: "webp", width: 640, dpr: 2 }, "webp;w=640;dpr=2"],
    [{ format: "jpeg", dpr: 1.5 }, "jpeg;dpr=1.5"],
    [{ format: "png", width: 320, dpr: 1 }, "png;w=320"],
  ];
  it.each(cases)("%j → %s", (variant, id) => {
    expect(variantId(variant)).toBe(id);
  });

  it("dpr 1 shares an id with no dpr: the same image", () => {
    expect(variantId({ format: "webp", width: 640, dpr: 1 })).toBe(
      variantId({ format: "webp", width: 640 }),
    );
  });

  it("distinct variants get distinct ids", () => {
    const ids = new Set<string>();
    for (const format of ["avif", "webp", "jpeg", "png", "gif"] as const) {
      for (const width of [undefined, ...DEFAULT.widths]) {
        for (const dpr of [undefined, 1.5, 2, 3]) ids.add(variantId({ format, width, dpr }));
      }
    }
    expect(ids.size).toBe(5 * (1 + DEFAULT.widths.length) * 4);
  });
});

describe("originalFormatFromPath / mediaTypeOf", () => {
  const paths: [path: string, format: ImageFormat | null][] = [
    ["/a.jpg", "jpeg"],
    ["/a.JPEG", "jpeg"],
    ["/a.jpe", "jpeg"],
    ["/a/b.png", "png"],
    ["/a.gif", "gif"],
    ["/a.webp", "webp"],
    ["/a.avif", "avif"],
    ["/a.svg", null],
    ["/a", null],
    ["/a.jpg/b", null],
    ["/archive.tar.png", "png"],
    ["/.png", "png"],
  ];
  it.each(paths)("%s → %s", (path, format) => {
    expect(originalFormatFromPath(path)).toBe(format);
  });

  const types: [format: ImageFormat, type: string][] = [
    ["avif", "image/avif"],
    ["webp", "image/webp"],
    ["jpeg", "image/jpeg"],
    ["png", "image/png"],
    ["gif", "image/gif"],
  ];
  it.each(types)("%s is served as %s", (format, type) => {
    expect(mediaTypeOf(format)).toBe(type);
  });
});
