import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../core/config/index.ts";
import {
  autoFormatChoices,
  formatTransformPath,
  isTransformPath,
  parseTransformPath,
  resolveAutoFormat,
  type TransformUrl,
} from "../../../core/variant/index.ts";

const { images } = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }],
});
const PREFIX = images.transformPrefix;

function parsed(path: string): TransformUrl {
  const r = parseTransformPath(path, PREFIX);
  if (!r.ok) throw new Error(r.message);
  return r.transform;
}

const canonical = (path: string) => formatTransformPath(PREFIX, parsed(path));

describe("transform URLs", () => {
  it("recognises the configured prefix", () => {
    expect(isTransformPath("/img/w=1/a.jpg", PREFIX)).toBe(true);
    expect(isTransformPath("/images/a.jpg", PREFIX)).toBe(false);
  });

  it.each([
    ["/img/width=640/a.jpg", "/img/width=640/a.jpg"],
    ["/img/w=640,q=80,f=webp/p/a.jpg", "/img/format=webp,quality=80,width=640/p/a.jpg"],
    ["/img/fit=cover,height=0200,width=100/a.png", "/img/fit=cover,height=200,width=100/a.png"],
    ["/img/dpr=2.0,gravity=0.5x0.25/a.jpg", "/img/dpr=2,gravity=0.5x0.25/a.jpg"],
    ["/img/quality=high,width=auto/a.jpg", "/img/quality=high,width=auto/a.jpg"],
    [
      "/img/trim=1;2;3;4,background=%23ffffff/a.jpg",
      "/img/background=%23ffffff,trim=1;2;3;4/a.jpg",
    ],
  ])("writes %s canonically as %s", (path, expected) => {
    expect(canonical(path)).toBe(expected);
  });

  it.each([
    ["/img/a.jpg", "expected /img/<options>/<path of the image>"],
    ["/img//a.jpg", "expected /img/<options>"],
    ["/img/width=1/", "the path of the source image is missing"],
    ["/img/width=1/http:/x/a.jpg", "must be a path on this site"],
    ["/img/width=1,/a.jpg", 'option "" must be written name=value'],
    ["/img/width=/a.jpg", "must be written name=value"],
    ["/img/size=1/a.jpg", 'unknown option "size"'],
    ["/img/w=1,width=2/a.jpg", 'option "width" is given twice'],
    ["/img/width=-5/a.jpg", "width=-5: must be a whole number from 1 to 100000 or auto"],
    ["/img/width=1.5/a.jpg", "width=1.5"],
    ["/img/quality=101/a.jpg", "quality=101"],
    ["/img/format=bmp/a.jpg", "format=bmp: must be one of auto, avif, webp"],
    ["/img/gravity=2x2/a.jpg", "gravity=2x2"],
    ["/img/dpr=0/a.jpg", "dpr=0: must be a number from 0.1 to 10"],
    ["/img/rotate=45/a.jpg", "rotate=45"],
    ["/img/background=url(x)/a.jpg", "must be a CSS colour"],
  ])("rejects %s: %s", (path, message) => {
    const r = parseTransformPath(path, PREFIX);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(message);
  });

  it("clips long user input in messages", () => {
    const r = parseTransformPath(`/img/${"x".repeat(5000)}=1/a.jpg`, PREFIX);
    expect(!r.ok && r.message.length < 100).toBe(true);
  });
});

describe("resolveAutoFormat", () => {
  const CHROME = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
  const OLD = "image/png,image/*;q=0.8,*/*;q=0.5";

  it.each([
    ["/img/format=auto,width=1/a.jpg", CHROME, "avif"],
    ["/img/format=auto,width=1/a.jpg", "image/webp,*/*", "webp"],
    ["/img/format=auto,width=1/a.jpg", OLD, "jpeg"],
    ["/img/format=auto,width=1/a.png", null, "png"],
    ["/img/format=auto/a.avif", OLD, "png"],
  ])("%s with Accept %s → format=%s", (path, accept, format) => {
    const { transform, negotiated } = resolveAutoFormat(parsed(path), accept, images);
    expect(negotiated).toBe(true);
    expect(transform.options.get("format")).toBe(format);
  });

  it("drops format for a source of unknown type when the client names no modern format", () => {
    const { transform } = resolveAutoFormat(parsed("/img/format=auto,width=1/photo"), OLD, images);
    expect(transform.options.has("format")).toBe(false);
    expect(formatTransformPath(PREFIX, transform)).toBe("/img/width=1/photo");
  });

  it("leaves an explicit format alone and reports no negotiation", () => {
    const t = parsed("/img/format=webp/a.jpg");
    expect(resolveAutoFormat(t, CHROME, images)).toEqual({ transform: t, negotiated: false });
  });
});

describe("transform URL failure codes", () => {
  it.each([
    ["/img/size=1/a.jpg", "unknown_option", "size"],
    ["/img/w=1,x=2/a.jpg", "unknown_option", "x"],
    ["/img/width=-5/a.jpg", "invalid_option", "width"],
    ["/img/q=101/a.jpg", "invalid_option", "quality"],
    ["/img/w=1,width=2/a.jpg", "invalid_option", "width"],
    ["/img/background=url(x)/a.jpg", "invalid_option", "background"],
    ["/img/sig=short,width=1/a.jpg", "invalid_option", "sig"],
    ["/img/width/a.jpg", "invalid_options", undefined],
    ["/img/width=1,/a.jpg", "invalid_options", undefined],
    ["/img/a.jpg", "invalid_options", undefined],
  ])("%s → %s naming %s", (path, code, option) => {
    const r = parseTransformPath(path, PREFIX);
    expect(r).toMatchObject({ ok: false, code, option });
    if (option !== undefined && !r.ok) expect(r.message).toContain(option);
  });

  it("keeps a sig option, in its sorted place in the canonical form", () => {
    const sig = "AbC-_0123456789xyzAbC-_0123456789xyzAbC-_01";
    expect(canonical(`/img/w=640,sig=${sig},fit=cover/a.jpg`)).toBe(
      `/img/fit=cover,sig=${sig},width=640/a.jpg`,
    );
  });

  it("refuses a source that is itself a transform URL", () => {
    const r = parseTransformPath("/img/w=1/img/w=2/a.jpg", PREFIX);
    expect(r).toMatchObject({ ok: false, code: "invalid_options" });
    if (!r.ok) expect(r.message).toContain("must not itself be a transform URL");
  });

  it("accepts a source that only contains the prefix further down its path", () => {
    expect(parsed("/img/w=1/photos/img/a.jpg").source).toBe("/photos/img/a.jpg");
  });

  it("keeps the commas inside an rgb() colour, splitting only between options", () => {
    expect(canonical("/img/fit=pad,background=rgba(255,0,0,0.5),w=640/a.jpg")).toBe(
      "/img/background=rgba(255,0,0,0.5),fit=pad,width=640/a.jpg",
    );
  });
});

describe("autoFormatChoices: what format=auto can become", () => {
  const formats = (path: string, config = images) =>
    autoFormatChoices(parsed(path), config).map((t) => t.options.get("format") ?? "none");

  it("each configured format, then the original's, or none for an unknown type", () => {
    expect(formats("/img/format=auto,width=640/a.jpg")).toEqual(["jpeg", "avif", "webp"]);
    expect(formats("/img/format=auto,width=640/photo")).toEqual(["none", "avif", "webp"]);
    expect(formats("/img/format=auto,width=640/a.png")).toEqual(["png", "avif", "webp"]);
  });

  it("whatever order the formats are configured in", () => {
    const webpFirst = parseConfig({
      origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }],
      images: { formats: ["webp", "avif"] },
    }).images;
    expect(formats("/img/format=auto/a.jpg", webpFirst).sort()).toEqual(["avif", "jpeg", "webp"]);
  });

  it("only the transform itself when it names no format=auto", () => {
    expect(formats("/img/format=webp,width=640/a.jpg")).toEqual(["webp"]);
  });
});
