import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import {
  formatTransformPath,
  parseTransformPath,
  resolveAutoFormat,
  type TransformUrl,
} from "../../core/variant/index.ts";
import { checkSignature, signTransform } from "../../image-pipeline/signing.ts";

const SECRET = "test-secret-0123456789abcdef-0123456789";
const OTHER_SECRET = "another-secret-0123456789abcdef-01234";
const { images } = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
  images: { signing: { secret: SECRET } },
});
const PREFIX = images.transformPrefix;

const CHROME = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
const WEBP_ONLY = "image/webp,*/*";
const OLD = "image/png,image/*;q=0.8,*/*;q=0.5";

function parsed(path: string): TransformUrl {
  const r = parseTransformPath(path, PREFIX);
  if (!r.ok) throw new Error(`test URL does not parse: ${r.message}`);
  return r.transform;
}

/** `path` with its sig option added, as `npm run sign-url` prints it. */
function signed(path: string, query = "", secret = SECRET): string {
  const t = parsed(path);
  const options = new Map(t.options);
  options.set("sig", signTransform(PREFIX, t, query, secret));
  return formatTransformPath(PREFIX, { options, source: t.source });
}

const check = (path: string, query = "") => checkSignature(parsed(path), query, images, SECRET);

/** The transform the pipeline sees after the edge resolved format=auto for `accept`. */
function afterEdge(path: string, accept: string): TransformUrl {
  return resolveAutoFormat(parsed(path), accept, images).transform;
}

describe("signed transform URLs", () => {
  it.each([
    ["/img/width=640/a.jpg", ""],
    ["/img/fit=cover,height=200,quality=80,width=640/photos/a.jpg", ""],
    ["/img/width=640/a.jpg", "v=2&x=1"],
    ["/img/format=webp,width=640/a.jpg", ""],
  ])("accepts %s?%s as signed", (path, query) => {
    const url = signed(path, query);
    expect(url).toMatch(/[,/]sig=[A-Za-z0-9_-]{43}[,/]/);
    expect(check(url, query)).toBe("ok");
  });

  it("the signature does not depend on where sig is written among the options", () => {
    const sig = parsed(signed("/img/width=640,fit=cover/a.jpg")).options.get("sig");
    expect(check(`/img/sig=${sig},width=640,fit=cover/a.jpg`)).toBe("ok");
    expect(check(`/img/fit=cover,width=640,sig=${sig}/a.jpg`)).toBe("ok");
  });

  it("reports an unsigned URL as missing", () => {
    expect(check("/img/width=640/a.jpg")).toBe("missing");
    expect(check("/img/format=auto,width=640/a.jpg", "v=1")).toBe("missing");
  });

  const base = signed("/img/fit=cover,quality=80,width=640/photos/a.jpg", "v=1");
  it.each<[string, string, string]>([
    ["another width", base.replace("width=640", "width=960"), "v=1"],
    ["another quality", base.replace("quality=80", "quality=81"), "v=1"],
    ["another fit", base.replace("fit=cover", "fit=crop"), "v=1"],
    ["an option removed", base.replace("fit=cover,", ""), "v=1"],
    ["an option added", base.replace("fit=cover,", "blur=5,fit=cover,"), "v=1"],
    ["a format added", base.replace("fit=cover,", "fit=cover,format=avif,"), "v=1"],
    ["another source", base.replace("/photos/a.jpg", "/photos/b.jpg"), "v=1"],
    ["another directory", base.replace("/photos/a.jpg", "/private/a.jpg"), "v=1"],
    ["another query", base, "v=2"],
    ["a query added", base, "v=1&x=1"],
    ["the query dropped", base, ""],
  ])("refuses the signed URL with %s", (_, path, query) => {
    expect(check(base, "v=1")).toBe("ok");
    expect(check(path, query)).toBe("bad");
  });

  it("refuses a URL signed with another secret", () => {
    expect(check(signed("/img/width=640/a.jpg", "", OTHER_SECRET))).toBe("bad");
  });

  it("refuses a signature copied from another URL", () => {
    const sig = parsed(signed("/img/width=640/a.jpg")).options.get("sig");
    expect(check(`/img/sig=${sig},width=640/b.jpg`)).toBe("bad");
    expect(check(`/img/sig=${"A".repeat(43)},width=640/a.jpg`)).toBe("bad");
  });

  it("accepts a URL signed with aliases once written with full names, and the reverse", () => {
    const fromAliases = parsed(signed("/img/w=640,q=80,f=webp/a.jpg")).options.get("sig");
    expect(check(`/img/width=640,quality=080,format=webp,sig=${fromAliases}/a.jpg`)).toBe("ok");
    const fromNames = parsed(signed("/img/width=640/a.jpg")).options.get("sig");
    expect(check(`/img/w=640,sig=${fromNames}/a.jpg`)).toBe("ok");
  });
});

describe("format=auto and signatures", () => {
  const auto = signed("/img/format=auto,width=640/a.jpg");

  it.each([
    [CHROME, "avif"],
    [WEBP_ONLY, "webp"],
    [OLD, "jpeg"],
  ])("a URL signed with format=auto is accepted after the edge picks for %s", (accept, format) => {
    const t = afterEdge(auto, accept);
    expect(t.options.get("format")).toBe(format);
    expect(checkSignature(t, "", images, SECRET)).toBe("ok");
  });

  it("and after the edge drops format for a source of unknown type", () => {
    const t = afterEdge(signed("/img/format=auto,width=640/photo"), OLD);
    expect(t.options.has("format")).toBe(false);
    expect(checkSignature(t, "", images, SECRET)).toBe("ok");
  });

  it.each([
    ["format=png on a JPEG", "/img/format=auto,width=640/a.jpg", "format=png"],
    ["format=gif on a JPEG", "/img/format=auto,width=640/a.jpg", "format=gif"],
    ["format=jpeg on a PNG", "/img/format=auto,width=640/a.png", "format=jpeg"],
  ])("but not with a format auto never becomes: %s", (_, path, format) => {
    const url = signed(path);
    expect(check(url)).toBe("ok");
    expect(check(url.replace("format=auto", format))).toBe("bad");
  });

  it("and with the original's format written out", () => {
    expect(check(signed("/img/format=auto,width=640/a.png").replace("auto", "png"))).toBe("ok");
  });

  it("and as it was signed, with format=auto itself", () => {
    expect(check(auto)).toBe("ok");
  });

  it("but not with another option changed alongside the format", () => {
    const t = afterEdge(auto.replace("width=640", "width=960"), CHROME);
    expect(checkSignature(t, "", images, SECRET)).toBe("bad");
  });

  it.each([
    ["format=avif", (p: string) => p.replace("format=webp", "format=avif")],
    ["format=jpeg", (p: string) => p.replace("format=webp", "format=jpeg")],
    ["no format", (p: string) => p.replace("format=webp,", "")],
    ["format=auto", (p: string) => p.replace("format=webp", "format=auto")],
  ])("a URL signed with format=webp is refused with %s", (_, change) => {
    const webp = signed("/img/format=webp,width=640/a.jpg");
    expect(check(webp)).toBe("ok");
    expect(check(change(webp))).toBe("bad");
  });

  it("a URL signed without a format is refused with one added", () => {
    const plain = signed("/img/width=640/a.jpg");
    expect(check(plain.replace("width=640", "format=avif,width=640"))).toBe("bad");
  });
});
