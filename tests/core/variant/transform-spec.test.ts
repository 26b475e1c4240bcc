import { describe, expect, it } from "vitest";
import { type ImagesConfig, parseConfig } from "../../../core/config/index.ts";
import {
  ImageError,
  parseColour,
  parseTransformPath,
  qualityFor,
  resolveTransform,
  type TransformSpec,
  transformVariantId,
} from "../../../core/variant/index.ts";

function imagesWith(images: Record<string, unknown> = {}): ImagesConfig {
  return parseConfig({ origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }], images })
    .images;
}

const DEFAULTS = imagesWith();
/** Widths rounded up to images.widths (the default is "exact"). */
const ROUND_UP = imagesWith({ widthPolicy: "round-up" });

/** Options as the shield gets them: written in a URL, parsed into canonical names. */
function opts(written: string): ReadonlyMap<string, string> {
  if (written === "") return new Map();
  const r = parseTransformPath(`/img/${written}/a.jpg`, "/img/");
  if (!r.ok) throw new Error(`test URL does not parse: ${r.message}`);
  return r.transform.options;
}

const spec = (written: string, images = DEFAULTS): TransformSpec =>
  resolveTransform(opts(written), images);

const id = (written: string, images = DEFAULTS): string =>
  transformVariantId(spec(written, images));

function imageError(fn: () => unknown): ImageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ImageError) return err;
    throw err;
  }
  throw new Error("expected an ImageError");
}

describe("resolveTransform: output size, widthPolicy exact (the default)", () => {
  it.each([
    ["width=801", 801, null],
    ["w=1", 1, null],
    ["width=320,dpr=2", 640, null],
    ["width=300,dpr=1.5", 450, null],
    ["width=480,dpr=1.2", 720, null],
    ["height=500", null, 500],
    ["width=801,height=400", 801, 400],
    // Still clamped to the output limits (limits.maxOutputWidth, 4096 by default).
    ["width=5000", 4096, null],
  ])("%s → %s × %s", (written, width, height) => {
    const s = spec(written);
    expect([s.width, s.height]).toEqual([width, height]);
  });

  it("w=801 and width=960 are two variants, as asked", () => {
    expect(id("w=801")).not.toBe(id("width=960"));
  });
});

describe("resolveTransform: output size, widthPolicy round-up", () => {
  it.each([
    ["width=801", 960, null],
    ["width=800", 800, null],
    ["w=1", 16, null],
    ["width=5000", 3840, null],
    ["width=480,dpr=2", 960, null],
    ["width=480,dpr=1.2", 720, null],
    ["width=480,dpr=2.5", 1440, null],
    ["width=480,dpr=10", 1440, null],
    ["width=480,dpr=0.5", 480, null],
    // The pixel width (width × dpr) is what rounds up to a step.
    ["width=320,dpr=2", 640, null],
    ["width=300,dpr=1.5", 480, null],
    ["height=500", null, 540],
    ["height=500,dpr=2", null, 1080],
    ["width=auto", null, null],
    ["width=auto,height=300", null, 300],
    ["width=300,height=200,dpr=2", 640, 427],
    ["width=801,height=400", 960, 479],
    ["", null, null],
  ])("%s → %s × %s", (written, width, height) => {
    const s = spec(written, ROUND_UP);
    expect([s.width, s.height]).toEqual([width, height]);
  });

  it.each([["width=801,height=400"], ["width=333,height=1000"], ["width=1000,height=17,dpr=1.5"]])(
    "%s keeps the asked aspect ratio after rounding up",
    (written) => {
      const asked = opts(written);
      const s = spec(written, ROUND_UP);
      const ratio = Number(asked.get("width")) / Number(asked.get("height"));
      // Within one pixel of the exact height for the rounded width.
      expect(Math.abs((s.width as number) / ratio - (s.height as number))).toBeLessThanOrEqual(1);
    },
  );

  it.each([
    // 3000 × dpr 3 = 9000 px is above every step: the largest (3840), ratio kept.
    ["width=3000,height=1500,dpr=3", ROUND_UP, 3840, 1920],
    ["width=3840,dpr=2", ROUND_UP, 3840, null],
    ["width=2000,height=1000", imagesWith({ limits: { maxOutputWidth: 1000 } }), 1000, 500],
    ["height=3840,dpr=3", imagesWith({ limits: { maxOutputHeight: 2000 } }), null, 2000],
    [
      "width=800,height=400",
      imagesWith({ limits: { maxOutputWidth: 16_383, maxOutputHeight: 200 } }),
      400,
      200,
    ],
  ])("%s is clamped to the output limits keeping its ratio", (written, images, width, height) => {
    const s = spec(written, images);
    expect([s.width, s.height]).toEqual([width, height]);
  });

  describe("widthPolicy allow-list", () => {
    const ALLOW = imagesWith({ widthPolicy: "allow-list", widths: [320, 640] });

    it("takes an allowed width, and a dpr multiple of one", () => {
      expect(spec("width=640", ALLOW).width).toBe(640);
      expect(spec("width=320,dpr=2", ALLOW).width).toBe(640);
    });

    it.each([
      ["width=641", "width"],
      ["width=100", "width"],
      ["height=100", "height"],
    ])("%s → 400 width_not_allowed naming %s", (written, option) => {
      const e = imageError(() => spec(written, ALLOW));
      expect([e.code, e.status, e.option]).toEqual(["width_not_allowed", 400, option]);
      expect(e.message).toContain("320, 640");
    });
  });
});

describe("resolveTransform: defaults and option values", () => {
  it("writes out the defaults for a URL with no options", () => {
    expect(spec("")).toMatchObject({
      fit: "scale-down",
      gravity: { kind: "side", side: "center" },
      quality: "medium-high",
      format: null,
      progressive: true,
      metadata: "none",
      background: { r: 255, g: 255, b: 255, alpha: 1 },
      anim: true,
      rotate: 0,
      flip: null,
      blur: null,
      sharpen: null,
      fast: false,
    });
  });

  it.each<[string, Partial<TransformSpec>]>([
    ["w=640,h=320,fit=cover", { fit: "cover" }],
    ["w=640,h=320,fit=cover,gravity=auto", { gravity: { kind: "auto" } }],
    ["w=640,h=320,fit=crop,gravity=face", { gravity: { kind: "auto" } }],
    ["w=640,h=320,fit=cover,g=left", { gravity: { kind: "side", side: "left" } }],
    ["w=640,h=320,fit=cover,gravity=0.3x0.7", { gravity: { kind: "point", x: 0.3, y: 0.7 } }],
    // Without a box, a fit only says whether to enlarge, and gravity steers nothing.
    ["w=640,fit=cover", { fit: "contain" }],
    ["h=320,fit=crop", { fit: "scale-down" }],
    ["fit=pad", { fit: "contain" }],
    ["w=640,fit=contain,gravity=left", { gravity: { kind: "side", side: "center" } }],
    ["w=640,h=320,fit=pad,gravity=left", { gravity: { kind: "side", side: "center" } }],
    ["quality=80", { quality: 80 }],
    ["q=080", { quality: 80 }],
    ["q=high", { quality: "high" }],
    ["format=webp", { format: "webp", progressive: true }],
    ["f=png", { format: "png" }],
    ["format=baseline-jpeg", { format: "jpeg", progressive: false }],
    ["format=auto", { format: null }],
    ["anim=false", { anim: false }],
    ["anim=true", { anim: true }],
    ["metadata=copyright", { metadata: "copyright" }],
    ["metadata=keep", { metadata: "keep" }],
    ["rotate=90,flip=hv", { rotate: 90, flip: "hv" }],
    ["blur=5,sharpen=2", { blur: 5, sharpen: 2 }],
    ["sharpen=0", { sharpen: null }],
    ["compression=fast", { fast: true }],
  ])("%s → %j", (written, expected) => {
    expect(spec(written)).toMatchObject(expected);
  });

  it.each([70, "low"])("a URL without quality gets defaultQuality %j", (q) => {
    expect(spec("", imagesWith({ defaultQuality: q })).quality).toBe(q);
    expect(spec("quality=20", imagesWith({ defaultQuality: q })).quality).toBe(20);
  });

  it.each([
    ["format=json", "format"],
    ["brightness=1", "brightness"],
    ["contrast=1.5", "contrast"],
    ["gamma=2", "gamma"],
    ["saturation=0", "saturation"],
    ["trim=1;2;3;4", "trim"],
  ])("%s → 400 unsupported_option naming %s", (written, option) => {
    const e = imageError(() => spec(`${written},width=640`));
    expect([e.code, e.status, e.option]).toEqual(["unsupported_option", 400, option]);
    expect(e.message).toContain(option);
    expect(e.toJSON()).toMatchObject({ error: "unsupported_option", option });
  });
});

describe("qualityFor", () => {
  it.each([
    ["high", "jpeg", 90],
    ["high", "avif", 75],
    ["medium-high", "jpeg", 85],
    ["medium-high", "avif", 60],
    ["medium-low", "webp", 75],
    ["medium-low", "avif", 50],
    ["low", "jpeg", 60],
    ["low", "avif", 40],
    [80, "jpeg", 80],
    [80, "avif", 80],
  ] as const)("%j for %s → %d", (q, format, expected) => {
    expect(qualityFor(q, format)).toBe(expected);
  });
});

describe("background colours", () => {
  // The pipeline's contract is the parsed option value. (rgb()/rgba() hold commas, which
  // the URL's option list splits on, so only resolveTransform is given them directly.)
  const bg = (value: string) =>
    resolveTransform(new Map([["background", value]]), DEFAULTS).background;

  it("is white when not given", () => {
    expect(spec("fit=pad").background).toEqual({ r: 255, g: 255, b: 255, alpha: 1 });
  });

  it.each([
    ["%23abc", { r: 170, g: 187, b: 204, alpha: 1 }],
    ["#ABC", { r: 170, g: 187, b: 204, alpha: 1 }],
    ["%23ff8000", { r: 255, g: 128, b: 0, alpha: 1 }],
    ["#ff800080", { r: 255, g: 128, b: 0, alpha: 0.502 }],
    ["#0f08", { r: 0, g: 255, b: 0, alpha: 0.533 }],
    ["rgb(1,2,3)", { r: 1, g: 2, b: 3, alpha: 1 }],
    ["rgba(10,20,255,0.25)", { r: 10, g: 20, b: 255, alpha: 0.25 }],
    ["Navy", { r: 0, g: 0, b: 128, alpha: 1 }],
    ["grey", { r: 128, g: 128, b: 128, alpha: 1 }],
    ["transparent", { r: 0, g: 0, b: 0, alpha: 0 }],
  ])("%s → %j", (value, rgba) => {
    expect(bg(value)).toEqual(rgba);
    expect(parseColour(value)).toEqual(rgba);
  });

  it("reads a hex colour written in a transform URL", () => {
    expect(spec("background=%23ff8000,fit=pad").background).toEqual(bg("#ff8000"));
  });

  it.each([
    "hsl(1,2%,3%)",
    "#12345",
    "#1234567",
    "notacolour",
    "rgb(256,0,0)",
    "rgb(1.5,2,3)",
    "rgba(1,2,3,1.5)",
    "rgb(1..2,2,3)",
    // Names are looked up in a table: an inherited property is not a colour.
    "constructor",
  ])("background=%s → 400 invalid_option naming background", (value) => {
    const e = imageError(() => bg(value));
    expect([e.code, e.status, e.option]).toEqual(["invalid_option", 400, "background"]);
  });

  it("refuses a URL whose colour the edge lets through but the pipeline cannot draw", () => {
    const e = imageError(() => spec("background=constructor,fit=pad"));
    expect([e.code, e.option]).toEqual(["invalid_option", "background"]);
  });
});

describe("transformVariantId", () => {
  it.each([
    ["w=801", "width=960"],
    ["w=360,dpr=2", "w=720"],
    ["w=320,dpr=2", "w=640"],
    ["w=500", "width=512"],
    ["w=480,dpr=1.2", "width=720"],
    ["height=500", "h=540"],
    ["width=5000", "width=3840"],
    ["", "fit=scale-down,gravity=center,metadata=none,anim=true,quality=medium-high"],
    ["w=640,h=320,fit=cover,gravity=face", "w=640,h=320,fit=cover,gravity=auto"],
    ["w=640,gravity=left", "w=640"],
    ["w=640,fit=cover", "w=640,fit=pad"],
    ["background=white", "background=%23fff"],
    ["sharpen=0", ""],
  ])("%s and %s name one variant (widthPolicy round-up)", (a, b) => {
    expect(id(a, ROUND_UP)).toBe(id(b, ROUND_UP));
  });

  it("every output-affecting option gives a different id", () => {
    const variants = [
      "width=640",
      "width=720",
      "width=640,height=320",
      "width=640,format=webp",
      "width=640,format=avif",
      "width=640,format=jpeg",
      "width=640,format=baseline-jpeg",
      "width=640,fit=cover",
      "width=640,height=320,fit=pad",
      "width=640,quality=80",
      "width=640,quality=high",
      "width=640,height=320,fit=cover,gravity=left",
      "width=640,height=320,fit=cover,gravity=auto",
      "width=640,height=320,fit=cover,gravity=0.3x0.7",
      "width=640,height=320,fit=cover,gravity=0.7x0.3",
      "width=640,metadata=copyright",
      "width=640,metadata=keep",
      "width=640,anim=false",
      "width=640,background=black",
      "width=640,background=%23ffffff80",
      "width=640,rotate=90",
      "width=640,flip=h",
      "width=640,blur=3",
      "width=640,sharpen=1",
      "width=640,compression=fast",
    ];
    const ids = variants.map((v) => id(v));
    expect(new Set(ids).size).toBe(variants.length);
  });

  it("onerror=redirect is its own variant (its error answers differ); without it ids are unchanged", () => {
    expect(spec("onerror=redirect,width=640").onError).toBe("redirect");
    expect(spec("width=640").onError).toBeNull();
    expect(id("onerror=redirect,width=640")).toBe(`${id("width=640")},onerror=redirect`);
  });

  it("depends on defaultQuality when the URL names no quality", () => {
    expect(id("width=640", imagesWith({ defaultQuality: 70 }))).not.toBe(id("width=640"));
  });

  it("is a deterministic string, whatever order the options were given in", () => {
    const resolved = (pairs: [string, string][]) =>
      transformVariantId(resolveTransform(new Map(pairs), DEFAULTS));
    const a = resolved([
      ["fit", "cover"],
      ["width", "640"],
    ]);
    const b = resolved([
      ["width", "640"],
      ["fit", "cover"],
    ]);
    expect(typeof a).toBe("string");
    expect(a).toBe(b);
    expect(id("width=640,fit=cover")).toBe(a);
  });
});
