/**
 * Transform resolution in the agreement table (tests/shared/agreement.ts): the edge
 * resolves a transform URL to key it (workers/request/image-request.ts) and the shield
 * resolves it again to key, bound and run it (origin-shield/image/route.ts). Both must
 * reach the same TransformSpec, variant id and refusal, or the two tiers would cache one
 * image under two keys, or one would refuse what the other serves.
 */
import { parseConfig } from "../../core/config/index.ts";
import {
  ImageError,
  parseColour,
  parseTransformPath,
  qualityFor,
  resolveTransform,
  transformVariantId,
  variantPath,
} from "../../core/variant/index.ts";

/**
 * A row of the agreement table, as AgreementCase in agreement.ts (which spreads these
 * rows in, so a shape that drifts fails to typecheck there). Declared here rather than
 * imported, so the two files do not import each other.
 */
interface AgreementCase {
  readonly name: string;
  readonly run: () => unknown;
  readonly expected: unknown;
}

const origins = [{ name: "shop", url: "http://127.0.0.1:9000", hosts: ["shop.example"] }];
const images = parseConfig({ origins }).images;
const roundUp = parseConfig({ origins, images: { widthPolicy: "round-up" } }).images;
const allowList = parseConfig({
  origins,
  images: { widthPolicy: "allow-list", widths: [320, 640] },
}).images;

/** The options of `/img/<written>/a.jpg`, parsed as both tiers parse them. */
function options(written: string): ReadonlyMap<string, string> {
  const parsed = parseTransformPath(`/img/${written}/a.jpg`, "/img/");
  if (!parsed.ok) throw new Error(`test URL does not parse: ${parsed.message}`);
  return parsed.transform.options;
}

/** What a call gives, or its refusal as the client sees it (status and JSON body). */
function outcome(run: () => unknown): unknown {
  try {
    return run();
  } catch (err) {
    if (err instanceof ImageError) return { status: err.status, body: err.toJSON() };
    throw err;
  }
}

const idOf = (written: string, config = images): unknown =>
  outcome(() => transformVariantId(resolveTransform(options(written), config)));

export const variantAgreementCases: readonly AgreementCase[] = [
  {
    name: "transform: a URL without options resolves to the written-out defaults",
    run: () => resolveTransform(new Map(), images),
    expected: {
      width: null,
      height: null,
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
      onError: null,
    },
  },
  {
    name: "transform: every option resolved, and its variant id",
    run: () => {
      const spec = resolveTransform(
        options(
          "w=300,h=200,dpr=2,fit=cover,g=0.25x0.75,q=80,f=baseline-jpeg,metadata=copyright,background=%23ff800080,anim=false,rotate=90,flip=hv,blur=5,sharpen=2,compression=fast",
        ),
        images,
      );
      return [spec, transformVariantId(spec)];
    },
    expected: [
      {
        width: 600,
        height: 400,
        fit: "cover",
        gravity: { kind: "point", x: 0.25, y: 0.75 },
        quality: 80,
        format: "jpeg",
        progressive: false,
        metadata: "copyright",
        background: { r: 255, g: 128, b: 0, alpha: 0.502 },
        anim: false,
        rotate: 90,
        flip: "hv",
        blur: 5,
        sharpen: 2,
        fast: true,
        onError: null,
      },
      "w=600,h=400,fit=cover,g=0.25x0.75,q=80,f=jpeg-baseline,meta=copyright,bg=255.128.0.0.502,anim=0,rot=90,flip=hv,blur=5,sharpen=2,fast=1",
    ],
  },
  {
    name: "transform: widthPolicy exact (the default) takes width × dpr as asked, clamped to the output limits",
    run: () => [idOf("w=801"), idOf("w=320,dpr=2"), idOf("h=500,dpr=1.5"), idOf("w=5000")],
    expected: [
      "w=801,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=640,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=-,h=750,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=4096,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
    ],
  },
  {
    name: "transform: widthPolicy round-up: widths × dpr round up to a step, are clamped to the output limits, and share ids",
    run: () => [
      idOf("w=320,dpr=2", roundUp),
      idOf("width=640", roundUp),
      idOf("w=700", roundUp),
      idOf("width=720", roundUp),
      idOf("w=801,h=400", roundUp),
      idOf("height=500,dpr=2", roundUp),
      idOf("w=3000,h=1500,dpr=3", roundUp),
      idOf("w=auto,h=300", roundUp),
      idOf("w=640,gravity=left", roundUp),
      idOf("sharpen=0,q=high,f=webp", roundUp),
    ],
    expected: [
      "w=640,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=640,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=720,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=720,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=960,h=479,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=-,h=1080,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=3840,h=1920,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=-,h=300,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=640,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      "w=-,h=-,fit=scale-down,g=center,q=high,f=webp,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
    ],
  },
  {
    name: "transform: the variant's path, and per-format quality for a word",
    run: () => [
      variantPath("/img/", "w=640,q=80", "/photos/cat.jpg"),
      qualityFor("high", "jpeg"),
      qualityFor("medium-high", "avif"),
      qualityFor("low", "webp"),
      qualityFor(80, "avif"),
    ],
    expected: ["/img/w=640,q=80/photos/cat.jpg", 90, 60, 60, 80],
  },
  {
    name: "transform: options the pipeline does not run are refused by name",
    run: () => [idOf("format=json"), idOf("w=640,brightness=1"), idOf("trim=1;2;3;4")],
    expected: [
      {
        status: 400,
        body: {
          error: "unsupported_option",
          option: "format",
          message: "format=json is not supported by this CDN",
        },
      },
      {
        status: 400,
        body: {
          error: "unsupported_option",
          option: "brightness",
          message: "brightness is not supported by this CDN",
        },
      },
      {
        status: 400,
        body: {
          error: "unsupported_option",
          option: "trim",
          message: "trim is not supported by this CDN",
        },
      },
    ],
  },
  {
    name: "transform: widthPolicy allow-list takes a step (× dpr) and refuses other sizes",
    run: () => [idOf("w=320,dpr=2", allowList), idOf("w=641", allowList), idOf("h=100", allowList)],
    expected: [
      "w=640,h=-,fit=scale-down,g=center,q=medium-high,f=source,meta=none,bg=255.255.255.1,anim=1,rot=0,flip=-,blur=-,sharpen=-,fast=0",
      {
        status: 400,
        body: {
          error: "width_not_allowed",
          option: "width",
          message: "width=641 is not one of the allowed sizes 320, 640",
        },
      },
      {
        status: 400,
        body: {
          error: "width_not_allowed",
          option: "height",
          message: "height=100 is not one of the allowed sizes 320, 640",
        },
      },
    ],
  },
  {
    name: "colour: hex, rgb()/rgba() and basic names parse alike",
    run: () =>
      ["%23abc", "#ABC", "#ff800080", "#0f08", "rgb(1,2,3)", "rgba(10,20,255,0.25)", "Navy"].map(
        (text) => outcome(() => parseColour(text)),
      ),
    expected: [
      { r: 170, g: 187, b: 204, alpha: 1 },
      { r: 170, g: 187, b: 204, alpha: 1 },
      { r: 255, g: 128, b: 0, alpha: 0.502 },
      { r: 0, g: 255, b: 0, alpha: 0.533 },
      { r: 1, g: 2, b: 3, alpha: 1 },
      { r: 10, g: 20, b: 255, alpha: 0.25 },
      { r: 0, g: 0, b: 128, alpha: 1 },
    ],
  },
  {
    name: "colour: what is not a colour the pipeline draws is refused, naming background",
    run: () =>
      ["hsl(1,2%,3%)", "#12345", "rgb(256,0,0)", "rgba(1,2,3,1.5)", "constructor"].map((text) =>
        outcome(() => parseColour(text)),
      ),
    expected: [
      {
        status: 400,
        body: {
          error: "invalid_option",
          option: "background",
          message:
            "background=hsl(1,2%,3%): must be #rgb, #rrggbb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a) or a basic CSS colour name",
        },
      },
      {
        status: 400,
        body: {
          error: "invalid_option",
          option: "background",
          message:
            "background=#12345: must be #rgb, #rrggbb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a) or a basic CSS colour name",
        },
      },
      {
        status: 400,
        body: {
          error: "invalid_option",
          option: "background",
          message:
            "background=rgb(256,0,0): must be #rgb, #rrggbb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a) or a basic CSS colour name",
        },
      },
      {
        status: 400,
        body: {
          error: "invalid_option",
          option: "background",
          message:
            "background=rgba(1,2,3,1.5): must be #rgb, #rrggbb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a) or a basic CSS colour name",
        },
      },
      {
        status: 400,
        body: {
          error: "invalid_option",
          option: "background",
          message:
            "background=constructor: must be #rgb, #rrggbb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a) or a basic CSS colour name",
        },
      },
    ],
  },
  {
    name: "colour: a name the URL syntax lets through is refused when the transform resolves",
    run: () => idOf("fit=pad,background=constructor"),
    expected: {
      status: 400,
      body: {
        error: "invalid_option",
        option: "background",
        message:
          "background=constructor: must be #rgb, #rrggbb, #rrggbbaa, rgb(r,g,b), rgba(r,g,b,a) or a basic CSS colour name",
      },
    },
  },
];
