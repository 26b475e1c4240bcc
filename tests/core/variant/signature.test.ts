/**
 * Signed transform URLs: core's check, the one both tiers run (WebCrypto HMAC-SHA256).
 * The rows that must give the same answers in workerd are in tests/shared/agreement-images.ts.
 */
import { describe, expect, it } from "vitest";
import { type ImagesConfig, parseConfig } from "../../../core/config/index.ts";
import {
  checkSignature,
  formatTransformPath,
  parseTransformPath,
  readClientHints,
  resolveAutoFormat,
  resolveAutoSize,
  signatureRefusal,
  signedForms,
  signTransform,
  type TransformUrl,
} from "../../../core/variant/index.ts";

const SECRET = "test-secret-0123456789abcdef-0123456789";
const OTHER_SECRET = "another-secret-0123456789abcdef-01234";

function imagesWith(images: Record<string, unknown> = {}): ImagesConfig {
  return parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
    images: { signing: { secret: SECRET }, ...images },
  }).images;
}

const images = imagesWith();
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
async function signed(path: string, query = "", secret = SECRET): Promise<string> {
  const t = parsed(path);
  const options = new Map(t.options);
  options.set("sig", await signTransform(PREFIX, t, query, secret));
  return formatTransformPath(PREFIX, { options, source: t.source });
}

const check = (path: string, query = "", config = images) =>
  checkSignature(parsed(path), query, config, SECRET);

/** The transform the shield sees after the edge resolved the autos for these fields. */
function afterEdge(
  path: string,
  accept: string,
  fields: Record<string, string> = {},
): TransformUrl {
  const formatted = resolveAutoFormat(parsed(path), accept, images).transform;
  return resolveAutoSize(formatted, readClientHints(new Headers(fields)), images).transform;
}

describe("signed transform URLs", () => {
  it.each([
    ["/img/width=640/a.jpg", ""],
    ["/img/fit=cover,height=200,quality=80,width=640/photos/a.jpg", ""],
    ["/img/width=640/a.jpg", "v=2&x=1"],
    ["/img/format=webp,width=640/a.jpg", ""],
  ])("accepts %s?%s as signed", async (path, query) => {
    const url = await signed(path, query);
    expect(url).toMatch(/[,/]sig=[A-Za-z0-9_-]{43}[,/]/);
    expect(await check(url, query)).toBe("ok");
  });

  it("signs what any HMAC-SHA256 gives over the canonical path and query, base64url", async () => {
    // Computed once with another HMAC implementation over
    // "/img/format=webp,width=640/a.jpg?v=1": a change to the message or the encoding
    // shows here.
    const sig = await signTransform(PREFIX, parsed("/img/w=640,f=webp/a.jpg"), "v=1", SECRET);
    expect(sig).toBe("1Db1CmYQglwOL5WbFjLNUrHkClNz7uAyxAKqoRUvs-Q");
  });

  it("the signature does not depend on where sig is written among the options", async () => {
    const sig = parsed(await signed("/img/width=640,fit=cover/a.jpg")).options.get("sig");
    expect(await check(`/img/sig=${sig},width=640,fit=cover/a.jpg`)).toBe("ok");
    expect(await check(`/img/fit=cover,width=640,sig=${sig}/a.jpg`)).toBe("ok");
  });

  it("reports an unsigned URL as missing", async () => {
    expect(await check("/img/width=640/a.jpg")).toBe("missing");
    expect(await check("/img/format=auto,width=640/a.jpg", "v=1")).toBe("missing");
  });

  it("refuses with 403 and the sig option named", () => {
    expect(signatureRefusal("missing").toJSON()).toEqual({
      error: "missing_signature",
      option: "sig",
      message: "this CDN transforms signed URLs only",
    });
    expect([signatureRefusal("bad").status, signatureRefusal("bad").code]).toEqual([
      403,
      "bad_signature",
    ]);
  });

  it.each<[string, (base: string) => string, string]>([
    ["another width", (base) => base.replace("width=640", "width=960"), "v=1"],
    ["another quality", (base) => base.replace("quality=80", "quality=81"), "v=1"],
    ["another fit", (base) => base.replace("fit=cover", "fit=crop"), "v=1"],
    ["an option removed", (base) => base.replace("fit=cover,", ""), "v=1"],
    ["an option added", (base) => base.replace("fit=cover,", "blur=5,fit=cover,"), "v=1"],
    ["a format added", (base) => base.replace("fit=cover,", "fit=cover,format=avif,"), "v=1"],
    ["another source", (base) => base.replace("/photos/a.jpg", "/photos/b.jpg"), "v=1"],
    ["another directory", (base) => base.replace("/photos/a.jpg", "/private/a.jpg"), "v=1"],
    ["another query", (base) => base, "v=2"],
    ["a query added", (base) => base, "v=1&x=1"],
    ["the query dropped", (base) => base, ""],
    ["width=auto for a width", (base) => base.replace("width=640", "width=auto"), "v=1"],
    ["dpr=auto added", (base) => base.replace("fit=cover,", "dpr=auto,fit=cover,"), "v=1"],
  ])("refuses the signed URL with %s", async (_, change, query) => {
    const base = await signed("/img/fit=cover,quality=80,width=640/photos/a.jpg", "v=1");
    expect(await check(base, "v=1")).toBe("ok");
    expect(await check(change(base), query)).toBe("bad");
  });

  it("refuses a URL signed with another secret", async () => {
    expect(await check(await signed("/img/width=640/a.jpg", "", OTHER_SECRET))).toBe("bad");
  });

  it("refuses a signature copied from another URL, and one of the right shape", async () => {
    const sig = parsed(await signed("/img/width=640/a.jpg")).options.get("sig");
    expect(await check(`/img/sig=${sig},width=640/b.jpg`)).toBe("bad");
    expect(await check(`/img/sig=${"A".repeat(43)},width=640/a.jpg`)).toBe("bad");
    // A signature one character short or long: the length alone refuses it.
    expect(await check(`/img/sig=${sig?.slice(1)},width=640/a.jpg`)).toBe("bad");
    expect(await check(`/img/sig=${sig}A,width=640/a.jpg`)).toBe("bad");
  });

  it("accepts a URL signed with aliases once written with full names, and the reverse", async () => {
    const fromAliases = parsed(await signed("/img/w=640,q=80,f=webp/a.jpg")).options.get("sig");
    expect(await check(`/img/width=640,quality=080,format=webp,sig=${fromAliases}/a.jpg`)).toBe(
      "ok",
    );
    const fromNames = parsed(await signed("/img/width=640/a.jpg")).options.get("sig");
    expect(await check(`/img/w=640,sig=${fromNames}/a.jpg`)).toBe("ok");
  });
});

describe("format=auto and signatures", () => {
  it.each([
    [CHROME, "avif"],
    [WEBP_ONLY, "webp"],
    [OLD, "jpeg"],
  ])(
    "a URL signed with format=auto is accepted after the edge picks for %s",
    async (accept, format) => {
      const t = afterEdge(await signed("/img/format=auto,width=640/a.jpg"), accept);
      expect(t.options.get("format")).toBe(format);
      expect(await checkSignature(t, "", images, SECRET)).toBe("ok");
    },
  );

  it("and after the edge drops format for a source of unknown type", async () => {
    const t = afterEdge(await signed("/img/format=auto,width=640/photo"), OLD);
    expect(t.options.has("format")).toBe(false);
    expect(await checkSignature(t, "", images, SECRET)).toBe("ok");
  });

  it.each([
    ["format=png on a JPEG", "/img/format=auto,width=640/a.jpg", "format=png"],
    ["format=gif on a JPEG", "/img/format=auto,width=640/a.jpg", "format=gif"],
    ["format=jpeg on a PNG", "/img/format=auto,width=640/a.png", "format=jpeg"],
  ])("but not with a format auto never becomes: %s", async (_, path, format) => {
    const url = await signed(path);
    expect(await check(url)).toBe("ok");
    expect(await check(url.replace("format=auto", format))).toBe("bad");
  });

  it("and with the original's format written out, or as signed", async () => {
    expect(
      await check((await signed("/img/format=auto,width=640/a.png")).replace("auto", "png")),
    ).toBe("ok");
    expect(await check(await signed("/img/format=auto,width=640/a.jpg"))).toBe("ok");
  });

  it("but not with another option changed alongside the format", async () => {
    const auto = await signed("/img/format=auto,width=640/a.jpg");
    const t = afterEdge(auto.replace("width=640", "width=960"), CHROME);
    expect(await checkSignature(t, "", images, SECRET)).toBe("bad");
  });

  it.each([
    ["format=avif", (p: string) => p.replace("format=webp", "format=avif")],
    ["format=jpeg", (p: string) => p.replace("format=webp", "format=jpeg")],
    ["no format", (p: string) => p.replace("format=webp,", "")],
    ["format=auto", (p: string) => p.replace("format=webp", "format=auto")],
  ])("a URL signed with format=webp is refused with %s", async (_, change) => {
    const webp = await signed("/img/format=webp,width=640/a.jpg");
    expect(await check(webp)).toBe("ok");
    expect(await check(change(webp))).toBe("bad");
  });

  it("a URL signed without a format is refused with one added", async () => {
    const plain = await signed("/img/width=640/a.jpg");
    expect(await check(plain.replace("width=640", "format=avif,width=640"))).toBe("bad");
  });
});

describe("width=auto, dpr=auto and signatures", () => {
  it.each<[string, string, Record<string, string>, string]>([
    ["a hinted width", "/img/width=auto/a.jpg", { "sec-ch-width": "700" }, "width=720"],
    ["no width hint", "/img/fit=cover,width=auto/a.jpg", {}, "fit=cover"],
    ["a hinted dpr", "/img/dpr=auto,width=320/a.jpg", { "sec-ch-dpr": "2" }, "dpr=2,width=320"],
    ["no dpr hint", "/img/dpr=auto,width=320/a.jpg", {}, "width=320"],
    [
      "both, from a width hint",
      "/img/dpr=auto,format=auto,width=auto/a.jpg",
      { "sec-ch-width": "1000", "sec-ch-dpr": "2" },
      "format=avif,width=1080",
    ],
    [
      "both, from the ratio alone",
      "/img/dpr=auto,height=200,width=auto/a.jpg",
      { "sec-ch-dpr": "3" },
      "dpr=3,height=200",
    ],
    // Signed, the URL keeps its sig option, so autos that resolve to nothing go.
    ["nothing from its only options", "/img/dpr=auto,width=auto/a.jpg", {}, ""],
  ])(
    "a URL signed with auto is accepted after the edge resolves %s",
    async (_, path, fields, options) => {
      const t = afterEdge(await signed(path), CHROME, fields);
      const resolvedOptions = [...t.options].filter(([name]) => name !== "sig");
      expect(resolvedOptions.map(([name, value]) => `${name}=${value}`).join(",")).toBe(options);
      expect(await checkSignature(t, "", images, SECRET)).toBe("ok");
    },
  );

  it.each([
    [
      "a width that is not a step",
      "/img/width=auto/a.jpg",
      (p: string) => p.replace("auto", "700"),
    ],
    [
      "a dpr that is not a step",
      "/img/dpr=auto,width=320/a.jpg",
      (p: string) => p.replace("dpr=auto", "dpr=2.5"),
    ],
    [
      "a dpr of 1 written out",
      "/img/dpr=auto,width=320/a.jpg",
      (p: string) => p.replace("dpr=auto", "dpr=1"),
    ],
    [
      "a dpr beside a width a hint gave",
      "/img/dpr=auto,width=auto/a.jpg",
      (p: string) => p.replace("dpr=auto", "dpr=2").replace("width=auto", "width=640"),
    ],
    [
      "a width where none was asked",
      "/img/dpr=auto,fit=cover/a.jpg",
      (p: string) => p.replace("fit=cover", "fit=cover,width=640"),
    ],
    ["an explicit width changed", "/img/width=640/a.jpg", (p: string) => p.replace("640", "720")],
  ])("but not with %s", async (_, path, change) => {
    const url = await signed(path);
    expect(await check(url)).toBe("ok");
    expect(await check(change(url))).toBe("bad");
  });

  it("a width=auto signature covers no width at all when hints are off", async () => {
    const off = imagesWith({ clientHints: { enabled: false } });
    const url = await signed("/img/fit=cover,width=auto/a.jpg");
    expect(await check(url.replace("width=auto", "width=640"), "", off)).toBe("bad");
    expect(await check(url.replace(",width=auto", ""), "", off)).toBe("ok");
  });

  it("tries at most eight forms, the URL as it arrived first", () => {
    const written = (path: string) =>
      signedForms(parsed(path), images).map((form) => formatTransformPath(PREFIX, form));
    expect(written("/img/format=avif,width=640/a.jpg")).toEqual([
      "/img/format=avif,width=640/a.jpg",
      "/img/dpr=auto,format=avif,width=640/a.jpg",
      "/img/format=avif,width=auto/a.jpg",
      "/img/dpr=auto,format=avif,width=auto/a.jpg",
      "/img/format=auto,width=640/a.jpg",
      "/img/dpr=auto,format=auto,width=640/a.jpg",
      "/img/format=auto,width=auto/a.jpg",
      "/img/dpr=auto,format=auto,width=auto/a.jpg",
    ]);
    // A dpr beside a width a hint gave is never a resolved dpr=auto.
    expect(written("/img/dpr=2,width=640/a.jpg")).toEqual([
      "/img/dpr=2,width=640/a.jpg",
      "/img/dpr=auto,width=640/a.jpg",
      "/img/dpr=2,width=auto/a.jpg",
    ]);
  });
});
