/**
 * The Node helpers for signed URLs (image-pipeline/signing.ts) against core's, which both
 * tiers check with (tests/core/variant/signature.test.ts has the check's own cases): the
 * synchronous signer must give core's signature, so URLs it signs pass core's check.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import {
  checkSignature as coreCheck,
  signTransform as coreSign,
  formatTransformPath,
  parseTransformPath,
  readClientHints,
  resolveAutoFormat,
  resolveAutoSize,
  type TransformUrl,
} from "../../core/variant/index.ts";
import { signTransform } from "../../image-pipeline/signing.ts";

const SECRET = "test-secret-0123456789abcdef-0123456789";
const { images } = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
  images: { signing: { secret: SECRET } },
});
const PREFIX = images.transformPrefix;

function parsed(path: string): TransformUrl {
  const r = parseTransformPath(path, PREFIX);
  if (!r.ok) throw new Error(`test URL does not parse: ${r.message}`);
  return r.transform;
}

function signed(path: string, query = ""): string {
  const t = parsed(path);
  const options = new Map(t.options);
  options.set("sig", signTransform(PREFIX, t, query, SECRET));
  return formatTransformPath(PREFIX, { options, source: t.source });
}

/** As the edge forwards it: format=auto and the size autos resolved. */
function afterEdge(path: string, fields: Record<string, string>): string {
  const formatted = resolveAutoFormat(parsed(path), "image/webp", images).transform;
  const hints = readClientHints(new Headers(fields));
  return formatTransformPath(PREFIX, resolveAutoSize(formatted, hints, images).transform);
}

describe("Node's signer agrees with core's", () => {
  it.each([
    ["/img/width=640/a.jpg", ""],
    ["/img/w=640,q=80,f=webp/photos/a.jpg", "v=2&x=1"],
    ["/img/format=auto,width=auto,dpr=auto/a.jpg", ""],
    ["/img/background=rgb(1,2,3),fit=pad,height=10,width=10/%C3%A9.png", "a=%20"],
  ])("signs %s?%s as core does", async (path, query) => {
    expect(signTransform(PREFIX, parsed(path), query, SECRET)).toBe(
      await coreSign(PREFIX, parsed(path), query, SECRET),
    );
  });

  const cases: [string, string][] = [
    ["signed", signed("/img/width=640/a.jpg")],
    ["unsigned", "/img/width=640/a.jpg"],
    ["forged", `/img/sig=${"A".repeat(43)},width=640/a.jpg`],
    ["tampered", signed("/img/width=640/a.jpg").replace("640", "720")],
    ["format=auto resolved", afterEdge(signed("/img/format=auto,width=640/a.jpg"), {})],
    [
      "width=auto resolved",
      afterEdge(signed("/img/dpr=auto,width=auto/a.jpg"), { "sec-ch-width": "500" }),
    ],
    ["dpr=auto resolved", afterEdge(signed("/img/dpr=auto,width=300/a.jpg"), { dpr: "2" })],
    ["a width auto never gives", signed("/img/width=auto/a.jpg").replace("auto", "500")],
  ];
  it("what it signs passes core's check, and nothing else does", async () => {
    const answers = await Promise.all(
      cases.map(([, path]) => coreCheck(parsed(path), "", images, SECRET)),
    );
    expect(answers).toEqual(["ok", "missing", "bad", "bad", "ok", "ok", "ok", "bad"]);
  });
});
