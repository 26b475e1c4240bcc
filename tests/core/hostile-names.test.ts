/**
 * Names that clients and origins choose (path extensions, transform option names, Accept
 * parameters, Cache-Status parameters, cookie names) are looked up in tables. A name such
 * as `constructor` or `__proto__` must be an unknown name like any other, never a member
 * of Object.prototype: a function handed on as an image format once became
 * `format=function Object() { [native code] }` in a forwarded URL and a 422 at the shield.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { parseAccept, qualityOf } from "../../core/http/accept.ts";
import { parseCacheStatus } from "../../core/http/cache-status.ts";
import { readCookies } from "../../core/key/cookies.ts";
import {
  autoFormatChoices,
  formatTransformPath,
  negotiateFormat,
  originalFormatFromPath,
  parseTransformPath,
  resolveAutoFormat,
  type TransformUrl,
} from "../../core/variant/index.ts";

const { images } = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }],
});
const PREFIX = images.transformPrefix;

/** Names every plain object answers to, in the spellings a client can send. */
const PROTOTYPE_NAMES = [
  "constructor",
  "__proto__",
  "toString",
  "tostring",
  "hasOwnProperty",
  "valueOf",
  "valueof",
  "isPrototypeOf",
  "CONSTRUCTOR",
] as const;

function transform(path: string): TransformUrl {
  const r = parseTransformPath(path, PREFIX);
  if (!r.ok) throw new Error(r.message);
  return r.transform;
}

describe("an image path's extension is only ever one of the image formats", () => {
  it.each(PROTOTYPE_NAMES)("/photos/a.%s names no format", (name) => {
    expect(originalFormatFromPath(`/photos/a.${name}`)).toBeNull();
  });

  it.each([
    ["/photos/a.JPG", "jpeg"],
    ["/photos/a.webp", "webp"],
    ["/photos/a.bin", null],
  ])("%s still names %s", (path, format) => {
    expect(originalFormatFromPath(path)).toBe(format);
  });
});

describe("format=auto on a source whose extension is a prototype name", () => {
  // Such a source is of unknown format, like `a.bin`: a client that names no modern format
  // gets the source's own format (no format option), one that names WebP gets WebP.
  const cases: [source: string, accept: string, format: string | undefined][] = [
    ["/a.constructor", "*/*", undefined],
    ["/a.__proto__", "*/*", undefined],
    ["/a.CONSTRUCTOR", "image/png,*/*;q=0.8", undefined],
    ["/a.constructor", "image/webp,*/*", "webp"],
    ["/a.__proto__", "image/avif,image/webp", "avif"],
    ["/a.bin", "*/*", undefined],
    ["/a.png", "*/*", "png"],
  ];
  it.each(cases)("%s with Accept %s → format %s", (source, accept, format) => {
    const { transform: t } = resolveAutoFormat(
      transform(`${PREFIX}format=auto,width=640${source}`),
      accept,
      images,
    );
    expect(t.options.get("format")).toBe(format);
    // The forwarded URL is one the shield parses again.
    const forwarded = formatTransformPath(PREFIX, t);
    expect(parseTransformPath(forwarded, PREFIX)).toMatchObject({ ok: true });
  });

  it.each(["/a.constructor", "/a.__proto__"])(
    "%s: every choice format=auto may become is a format or none (signatures, purge)",
    (source) => {
      const formats = autoFormatChoices(transform(`${PREFIX}format=auto${source}`), images).map(
        (t) => t.options.get("format"),
      );
      expect(formats).toEqual([undefined, "avif", "webp"]);
    },
  );
});

describe("a transform option named like a prototype member is an unknown option", () => {
  it.each(PROTOTYPE_NAMES)("/img/%s=1/a.jpg → unknown_option", (name) => {
    expect(parseTransformPath(`${PREFIX}${name}=1/a.jpg`, PREFIX)).toEqual({
      ok: false,
      code: "unknown_option",
      option: name,
      message: `unknown option "${name}"`,
    });
  });

  it("after a valid option too", () => {
    expect(parseTransformPath(`${PREFIX}w=640,__proto__=x/a.jpg`, PREFIX)).toMatchObject({
      ok: false,
      code: "unknown_option",
      option: "__proto__",
    });
  });
});

describe("Accept parameters named like prototype members (RFC 9110 §12.5.1)", () => {
  it.each(["__proto__", "constructor", "toString"])(
    "image/avif;%s=1 is a range with a parameter: it does not select AVIF",
    (name) => {
      const ranges = parseAccept(`image/avif;${name}=1, image/jpeg`);
      expect(ranges.map((r) => `${r.type}/${r.subtype}`)).toEqual(["image/avif", "image/jpeg"]);
      // A range with parameters only matches representations with those parameters.
      expect(qualityOf(ranges, "image", "avif")).toBe(0);
      expect(negotiateFormat(`image/avif;${name}=1`, "jpeg", images)).toBe("jpeg");
    },
  );

  it("keeps a __proto__ parameter like any other", () => {
    const [range] = parseAccept("text/plain;__proto__=x;format=flowed");
    expect(Object.entries(range?.params ?? {})).toEqual([
      ["__proto__", "x"],
      ["format", "flowed"],
    ]);
  });

  it.each(["text/html", "text/html;level=1"])(
    "%s: a parameter the client did not send is absent, whatever its name",
    (accept) => {
      const params = parseAccept(accept)[0]?.params ?? {};
      for (const name of PROTOTYPE_NAMES) expect(params[name]).toBeUndefined();
    },
  );
});

describe("Cache-Status parameters and cookies named like prototype members", () => {
  // Structured Field keys are lowercase and start with a letter (RFC 8941 §3.1.2), so
  // `constructor` is the one prototype name a parameter can have.
  it("unknown Cache-Status parameters are ignored (RFC 9211 §2)", () => {
    expect(
      parseCacheStatus('shield; constructor; hit, edge; constructor="x"; fwd=uri-miss'),
    ).toEqual([
      { cache: "shield", hit: true },
      { cache: "edge", fwd: "uri-miss" },
    ]);
  });

  it("a cookie named constructor is read only when the key names it", () => {
    expect(readCookies("constructor=a; __proto__=b; sid=c", ["sid", "toString"])).toEqual([
      "c",
      null,
    ]);
    expect(readCookies("constructor=a; __proto__=b", ["__proto__", "constructor"])).toEqual([
      "b",
      "a",
    ]);
  });
});
