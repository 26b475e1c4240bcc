/**
 * Signed transform URLs at the edge: with IMAGE_SIGNING_SECRET set, a transform URL whose
 * signature is missing or wrong is refused before any lookup or fetch, with the shield's
 * status, code and body (core/variant checkSignature, the shield's own check), so a
 * forged URL costs the shield nothing. Signatures are computed here, inside workerd,
 * with core's signTransform (WebCrypto).
 */
import { describe, expect, it } from "vitest";
import {
  formatTransformPath,
  parseTransformPath,
  signTransform,
} from "../../core/variant/index.ts";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const SECRET = "edge-signing-secret-0123456789abcdef";
const OTHER = "another-signing-secret-0123456789abcd";
const ENV = { IMAGE_SIGNING_SECRET: SECRET };
const IMAGE = { headers: { "cache-control": "max-age=3600" }, body: "image" } as const;

/** `path` signed with `secret`, in the canonical form the edge forwards. */
async function signed(path: string, secret = SECRET, query = ""): Promise<string> {
  const parsed = parseTransformPath(path, "/img/");
  if (!parsed.ok) throw new Error(parsed.message);
  const options = new Map(parsed.transform.options);
  options.set("sig", await signTransform("/img/", parsed.transform, query, secret));
  const sorted = new Map([...options].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return formatTransformPath("/img/", { options: sorted, source: parsed.transform.source });
}

/** Every request any fake shield received for the transform or its source. */
async function reached(...paths: string[]): Promise<number> {
  return (await Promise.all(paths.map(receivedAll))).flat().length;
}

describe("signed transform URLs at the edge", () => {
  it("refuses a forged URL with the shield's 403 and body, and the shield receives nothing", async () => {
    const edge = testEdge(cdnConfig(), ENV);
    const source = uniquePath("cat.jpg");
    const forged = `/img/sig=${"A".repeat(43)},width=640${source}`;
    await scriptAll(forged, IMAGE);
    for (const method of ["GET", "HEAD"]) {
      const res = await edge.send(forged, { method });
      expect(res.status, method).toBe(403);
      expect(res.headers.get("cache-status")).toBe("edge; detail=bad_signature");
      expect(res.headers.get("cache-control")).toBe("no-store");
      if (method === "GET") {
        expect(JSON.parse(res.text)).toEqual({
          error: "bad_signature",
          option: "sig",
          message: "the signature does not match this URL",
        });
      }
    }
    expect(await reached(forged, source)).toBe(0);
  });

  it("refuses a missing signature, and a signature over other options, unfetched", async () => {
    const edge = testEdge(cdnConfig(), ENV);
    const source = uniquePath("cat.jpg");
    const unsigned = `/img/width=640${source}`;
    const missing = await edge.send(unsigned);
    expect(missing.status).toBe(403);
    expect(JSON.parse(missing.text)).toEqual({
      error: "missing_signature",
      option: "sig",
      message: "this CDN transforms signed URLs only",
    });
    const valid = await signed(`/img/fit=cover,height=200,width=640${source}`);
    for (const tampered of [
      valid.replace("width=640", "width=641"),
      valid.replace("fit=cover", "fit=crop"),
      valid.replace(",height=200", ""),
      valid.replace(source, uniquePath("dog.jpg")),
      `${valid}?v=2`,
      await signed(`/img/fit=cover,height=200,width=640${source}`, OTHER),
    ]) {
      const res = await edge.send(tampered);
      expect([res.status, JSON.parse(res.text).error], tampered).toEqual([403, "bad_signature"]);
    }
    expect(await reached(unsigned, valid, source)).toBe(0);
  });

  it("forwards a valid signature, and keys it", async () => {
    const edge = testEdge(cdnConfig(), ENV);
    const source = uniquePath("cat.jpg");
    const valid = await signed(`/img/format=webp,width=640${source}`);
    await scriptAll(valid, IMAGE);
    const first = await edge.send(valid);
    expect([first.status, first.text]).toEqual([200, "image"]);
    // Written with aliases and in another order, the same signed URL hits.
    const sig = valid.match(/sig=([^,/]+)/)?.[1];
    const again = await edge.send(`/img/w=640,sig=${sig},f=webp${source}`);
    expect(again.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(valid)).toHaveLength(1);
  });

  it("forwards a URL signed with format=auto and width=auto as resolved, which the signature covers", async () => {
    const edge = testEdge(cdnConfig(), ENV);
    const source = uniquePath("cat.jpg");
    const auto = await signed(`/img/format=auto,width=auto${source}`);
    const sig = auto.match(/sig=([^,/]+)/)?.[1];
    const resolved = `/img/format=avif,sig=${sig},width=720${source}`;
    await scriptAll(resolved, IMAGE);
    const res = await edge.send(auto, {
      headers: { accept: "image/avif,image/webp,*/*", "sec-ch-width": "700" },
    });
    expect([res.status, res.text]).toEqual([200, "image"]);
    expect(await receivedAll(resolved)).toHaveLength(1);
  });

  it("checks the signature before the options resolve, and after they parse, as the shield does", async () => {
    const edge = testEdge(cdnConfig(), ENV);
    const unparsable = await edge.send("/img/width=abc/a.jpg");
    expect([unparsable.status, JSON.parse(unparsable.text).error]).toEqual([400, "invalid_option"]);
    const unsupported = await edge.send("/img/brightness=1/a.jpg");
    expect([unsupported.status, JSON.parse(unsupported.text).error]).toEqual([
      403,
      "missing_signature",
    ]);
  });

  it("takes the secret from the config when the Worker secret is not set, and the Worker secret first", async () => {
    const source = uniquePath("cat.jpg");
    const withOther = await signed(`/img/width=100${source}`, OTHER);
    const withSecret = await signed(`/img/width=100${source}`);
    await scriptAll(withOther, IMAGE);
    await scriptAll(withSecret, IMAGE);
    const config = cdnConfig({ images: { signing: { secret: OTHER } } });
    const fromConfig = testEdge(config);
    expect((await fromConfig.send(withOther)).status).toBe(200);
    expect((await fromConfig.send(withSecret)).status).toBe(403);
    const fromSecret = testEdge(config, ENV);
    expect((await fromSecret.send(withSecret)).status).toBe(200);
    expect((await fromSecret.send(withOther)).status).toBe(403);
    // An empty secret is none: the config's applies.
    expect((await testEdge(config, { IMAGE_SIGNING_SECRET: "" }).send(withOther)).status).toBe(200);
  });

  it("refuses to serve with a secret shorter than 32 characters", async () => {
    const edge = testEdge(cdnConfig(), { IMAGE_SIGNING_SECRET: "short" });
    const res = await edge.send(uniquePath("a.txt"));
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text).error).toBe("config_invalid");
  });

  it("leaves paths that are not transform URLs alone", async () => {
    const edge = testEdge(cdnConfig(), ENV);
    const path = uniquePath("photo.jpg");
    await scriptAll(path, IMAGE);
    expect((await edge.send(path)).status).toBe(200);
  });
});
