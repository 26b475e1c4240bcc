import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ImagesConfig, parseConfig } from "../../../core/config/index.ts";
import {
  type ClientHints,
  clientHintsAdvertisement,
  formatTransformPath,
  NO_CLIENT_HINTS,
  parseTransformPath,
  readClientHints,
  resolveAutoSize,
  resolveTransform,
  transformVariantId,
  usesClientHints,
} from "../../../core/variant/index.ts";

function imagesWith(images: Record<string, unknown> = {}): ImagesConfig {
  return parseConfig({ origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }], images })
    .images;
}

const DEFAULTS = imagesWith();
const OFF = imagesWith({ clientHints: { enabled: false } });
const ADVERTISE = imagesWith({ clientHints: { advertise: true } });
const CRITICAL = imagesWith({ clientHints: { advertise: true, critical: true } });

const WIDTH_VARY = [
  "Sec-CH-Width",
  "Width",
  "Sec-CH-Viewport-Width",
  "Viewport-Width",
  "Sec-CH-DPR",
  "DPR",
];
const DPR_VARY = ["Sec-CH-DPR", "DPR"];

function hints(fields: Record<string, string>): ClientHints {
  return readClientHints(new Headers(fields));
}

/** `/img/<written>/a.jpg` with width=auto and dpr=auto resolved: its canonical path. */
function resolved(written: string, fields: Record<string, string>, images = DEFAULTS) {
  const parsed = parseTransformPath(`/img/${written}/a.jpg`, "/img/");
  if (!parsed.ok) throw new Error(`test URL does not parse: ${parsed.message}`);
  const out = resolveAutoSize(parsed.transform, hints(fields), images);
  return { path: formatTransformPath("/img/", out.transform), vary: out.vary };
}

describe("reading Client Hints", () => {
  it.each<[string, Record<string, string>, ClientHints]>([
    [
      "the Sec-CH- forms",
      { "sec-ch-width": "640", "sec-ch-viewport-width": "1280", "sec-ch-dpr": "2" },
      { width: 640, viewportWidth: 1280, dpr: 2 },
    ],
    [
      "the legacy forms",
      { width: "641", "viewport-width": "1281", dpr: "1.5" },
      { width: 641, viewportWidth: 1281, dpr: 1.5 },
    ],
    [
      "the Sec-CH- form over the legacy one",
      { "sec-ch-width": "700", width: "300", "sec-ch-dpr": "3", dpr: "1" },
      { width: 700, viewportWidth: null, dpr: 3 },
    ],
    [
      "the legacy form when the Sec-CH- one is malformed",
      { "sec-ch-width": "wide", width: "300" },
      { width: 300, viewportWidth: null, dpr: null },
    ],
    ["none", {}, NO_CLIENT_HINTS],
    [
      "a decimal DPR as Structured Fields write it, and whitespace around values",
      { "sec-ch-dpr": " 2.625 ", "sec-ch-width": "\t480 " },
      { width: 480, viewportWidth: null, dpr: 2.625 },
    ],
    [
      "the last of values sent twice",
      { "sec-ch-width": "300, 900" },
      { width: 900, viewportWidth: null, dpr: null },
    ],
  ])("reads %s", (_, fields, expected) => {
    expect(hints(fields)).toEqual(expected);
  });

  it.each([
    ["a negative width", { "sec-ch-width": "-640" }],
    ["a zero width", { "sec-ch-width": "0" }],
    ["a fractional width", { "sec-ch-width": "640.5" }],
    ["a width with a unit", { "sec-ch-width": "640px" }],
    ["a width of ten digits", { "sec-ch-width": "1234567890" }],
    ["a megabyte of digits", { "sec-ch-width": "9".repeat(1_000_000) }],
    ["an exponent", { "sec-ch-dpr": "1e3" }],
    ["a zero ratio", { "sec-ch-dpr": "0" }],
    ["NaN", { "sec-ch-dpr": "NaN" }],
    ["Infinity", { "sec-ch-viewport-width": "Infinity" }],
    ["a hex number", { "sec-ch-width": "0x400" }],
    ["a Structured Fields parameter", { "sec-ch-dpr": "2;x=1" }],
    ["an empty value", { "sec-ch-width": "" }],
  ])("ignores %s", (_, fields) => {
    expect(hints(fields)).toEqual(NO_CLIENT_HINTS);
  });
});

describe("resolving width=auto and dpr=auto", () => {
  it.each<[string, string, Record<string, string>, string, readonly string[]]>([
    [
      "width=auto takes Sec-CH-Width, rounded up to a step",
      "width=auto",
      { "sec-ch-width": "700" },
      "/img/width=720/a.jpg",
      WIDTH_VARY,
    ],
    [
      "a width that is a step stays",
      "format=webp,width=auto",
      { "sec-ch-width": "640" },
      "/img/format=webp,width=640/a.jpg",
      WIDTH_VARY,
    ],
    [
      "the viewport width × DPR when there is no width hint",
      "width=auto",
      { "sec-ch-viewport-width": "400", "sec-ch-dpr": "2" },
      "/img/width=800/a.jpg",
      WIDTH_VARY,
    ],
    [
      "the viewport width × the DPR rounded up to a step",
      "width=auto",
      { "sec-ch-viewport-width": "400", "sec-ch-dpr": "1.2" },
      "/img/width=640/a.jpg",
      WIDTH_VARY,
    ],
    [
      "the viewport width alone at a ratio of 1",
      "width=auto",
      { "viewport-width": "390" },
      "/img/width=420/a.jpg",
      WIDTH_VARY,
    ],
    [
      "no width hint: no width (no resize)",
      "fit=cover,width=auto",
      { "sec-ch-dpr": "2" },
      "/img/fit=cover/a.jpg",
      WIDTH_VARY,
    ],
    [
      "a huge width hint: the largest step",
      "width=auto",
      { "sec-ch-width": "999999999" },
      "/img/width=3840/a.jpg",
      WIDTH_VARY,
    ],
    [
      "a tiny width hint: the smallest step",
      "width=auto",
      { "sec-ch-width": "1" },
      "/img/width=16/a.jpg",
      WIDTH_VARY,
    ],
    [
      "dpr=auto beside a hinted width=auto is left out: the width counts device pixels",
      "dpr=auto,width=auto",
      { "sec-ch-width": "1000", "sec-ch-dpr": "2" },
      "/img/width=1080/a.jpg",
      WIDTH_VARY,
    ],
    [
      "dpr=auto beside a width=auto no hint resolved takes the ratio",
      "dpr=auto,height=300,width=auto",
      { "sec-ch-dpr": "2" },
      "/img/dpr=2,height=300/a.jpg",
      WIDTH_VARY,
    ],
    [
      "dpr=auto with an explicit width takes Sec-CH-DPR, rounded up to a step",
      "dpr=auto,width=320",
      { "sec-ch-dpr": "1.75" },
      "/img/dpr=2,width=320/a.jpg",
      DPR_VARY,
    ],
    [
      "dpr=auto takes the legacy DPR",
      "dpr=auto,width=320",
      { dpr: "1.5" },
      "/img/dpr=1.5,width=320/a.jpg",
      DPR_VARY,
    ],
    [
      "dpr=auto capped at the largest step",
      "dpr=auto,width=320",
      { "sec-ch-dpr": "9.5" },
      "/img/dpr=3,width=320/a.jpg",
      DPR_VARY,
    ],
    [
      "dpr=auto at a ratio of 1 is left out",
      "dpr=auto,width=320",
      { "sec-ch-dpr": "1" },
      "/img/width=320/a.jpg",
      DPR_VARY,
    ],
    [
      "dpr=auto below 1 rounds up to 1 and is left out",
      "dpr=auto,width=320",
      { "sec-ch-dpr": "0.5" },
      "/img/width=320/a.jpg",
      DPR_VARY,
    ],
    [
      "dpr=auto without a hint is left out",
      "dpr=auto,width=320",
      {},
      "/img/width=320/a.jpg",
      DPR_VARY,
    ],
    [
      "an explicit width and dpr are untouched, and nothing varies",
      "dpr=2,width=320",
      { "sec-ch-width": "1000", "sec-ch-dpr": "3" },
      "/img/dpr=2,width=320/a.jpg",
      [],
    ],
    [
      "an explicit dpr beside width=auto is kept",
      "dpr=2,width=auto",
      { "sec-ch-width": "300" },
      "/img/dpr=2,width=300/a.jpg",
      WIDTH_VARY,
    ],
    [
      "malformed hints are as none",
      "dpr=auto,fit=cover,width=auto",
      { "sec-ch-width": "-1", "sec-ch-dpr": "two" },
      "/img/fit=cover/a.jpg",
      WIDTH_VARY,
    ],
  ])("%s", (_, written, fields, path, vary) => {
    expect(resolved(written, fields)).toEqual({ path, vary });
  });

  it("with images.clientHints.enabled off, auto resolves as without hints, and nothing varies", () => {
    const fields = { "sec-ch-width": "700", "sec-ch-dpr": "2" };
    expect(resolved("width=auto", fields, OFF)).toEqual({
      path: "/img/width=auto/a.jpg",
      vary: [],
    });
    expect(resolved("dpr=auto,width=320", fields, OFF)).toEqual({
      path: "/img/width=320/a.jpg",
      vary: [],
    });
  });

  it("uses the configured steps", () => {
    const images = imagesWith({ widths: [100, 500, 1000], dprs: [1, 2] });
    expect(resolved("width=auto", { "sec-ch-width": "501" }, images).path).toBe(
      "/img/width=1000/a.jpg",
    );
    expect(resolved("dpr=auto,width=100", { "sec-ch-dpr": "1.5" }, images).path).toBe(
      "/img/dpr=2,width=100/a.jpg",
    );
  });

  it("keeps autos that resolve to nothing when they are the only options", () => {
    expect(resolved("width=auto", {})).toEqual({ path: "/img/width=auto/a.jpg", vary: WIDTH_VARY });
    expect(resolved("dpr=auto", { "sec-ch-dpr": "1" })).toEqual({
      path: "/img/dpr=auto/a.jpg",
      vary: DPR_VARY,
    });
    expect(resolved("dpr=auto,width=auto", { "sec-ch-dpr": "x" }).path).toBe(
      "/img/dpr=auto,width=auto/a.jpg",
    );
  });

  it("leaves a URL without auto alone (the same object)", () => {
    const parsed = parseTransformPath("/img/width=640/a.jpg", "/img/");
    if (!parsed.ok) throw new Error(parsed.message);
    const out = resolveAutoSize(parsed.transform, hints({ "sec-ch-width": "100" }), DEFAULTS);
    expect(out.transform).toBe(parsed.transform);
    expect(usesClientHints(parsed.transform)).toBe(false);
  });

  it("an unresolved dpr=auto reads as no dpr in the pipeline's options", () => {
    const parsed = parseTransformPath("/img/dpr=auto,width=320/a.jpg", "/img/");
    if (!parsed.ok) throw new Error(parsed.message);
    expect(usesClientHints(parsed.transform)).toBe(true);
    expect(resolveTransform(parsed.transform.options, DEFAULTS).width).toBe(320);
  });

  it("whatever the hints, width=auto gives one of the steps: variants stay bounded", () => {
    const parsed = parseTransformPath("/img/dpr=auto,width=auto/a.jpg", "/img/");
    if (!parsed.ok) throw new Error(parsed.message);
    const transform = parsed.transform;
    const ids = new Set<string>();
    fc.assert(
      fc.property(
        fc.record({
          "sec-ch-width": fc.oneof(fc.string(), fc.integer().map(String), fc.constant("")),
          "sec-ch-viewport-width": fc.oneof(fc.string(), fc.nat().map(String)),
          "sec-ch-dpr": fc.oneof(
            fc.string(),
            fc.double().map(String),
            fc.integer({ min: 0, max: 400 }).map((tenths) => String(tenths / 10)),
          ),
        }),
        (fields) => {
          const safe = Object.fromEntries(
            Object.entries(fields).filter(([, value]) => /^[\x20-\x7e]*$/.test(value)),
          );
          const out = resolveAutoSize(transform, hints(safe), DEFAULTS);
          const width = out.transform.options.get("width");
          // A step, none, or the auto kept when nothing resolved it (it means no width).
          const bounded =
            width === undefined || width === "auto" || DEFAULTS.widths.includes(Number(width));
          expect(bounded).toBe(true);
          const dpr = out.transform.options.get("dpr");
          expect(dpr === undefined || dpr === "auto" || DEFAULTS.dprs.includes(Number(dpr))).toBe(
            true,
          );
          ids.add(transformVariantId(resolveTransform(out.transform.options, DEFAULTS)));
        },
      ),
    );
    expect(ids.size).toBeLessThanOrEqual(DEFAULTS.widths.length * DEFAULTS.dprs.length + 1);
  });
});

describe("advertising Client Hints on HTML", () => {
  const none = { acceptCh: null, criticalCh: null };

  it("is off by default", () => {
    expect(clientHintsAdvertisement("text/html", none, DEFAULTS)).toBeNull();
  });

  it.each([["text/html; charset=utf-8"], ["TEXT/HTML"], ["application/xhtml+xml"]])(
    "asks for the hints on %s",
    (type) => {
      expect(clientHintsAdvertisement(type, none, ADVERTISE)).toEqual({
        acceptCh: "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width",
        criticalCh: null,
      });
    },
  );

  it.each([["image/jpeg"], ["application/json"], ["text/plain"], [null], ["text/htmlx"]])(
    "leaves %s alone",
    (type) => {
      expect(clientHintsAdvertisement(type, none, ADVERTISE)).toBeNull();
    },
  );

  it("keeps the origin's own hints and adds the missing ones, case-insensitively", () => {
    const current = { acceptCh: "Sec-CH-UA-Model, sec-ch-dpr", criticalCh: null };
    expect(clientHintsAdvertisement("text/html", current, ADVERTISE)?.acceptCh).toBe(
      "Sec-CH-UA-Model, sec-ch-dpr, Sec-CH-Width, Sec-CH-Viewport-Width",
    );
  });

  it("sends Critical-CH when configured", () => {
    expect(clientHintsAdvertisement("text/html", none, CRITICAL)).toEqual({
      acceptCh: "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width",
      criticalCh: "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width",
    });
  });

  it("refuses critical without advertise in the config", () => {
    expect(() => imagesWith({ clientHints: { critical: true } })).toThrow(
      /images\.clientHints\.critical: needs advertise: true/,
    );
  });
});
