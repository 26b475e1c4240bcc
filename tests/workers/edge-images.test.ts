import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

// Real browsers' Accept for images.
const CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const SAFARI_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5";
const OLD = "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";

const IMAGE = { byAccept: true, headers: { "cache-control": "max-age=3600" } } as const;

describe("image variants (Accept → avif | webp | original)", () => {
  it("never serves one client's format to another, and asks the shield once per format", async () => {
    const edge = testEdge();
    const path = uniquePath("photo.jpg");
    await scriptAll(path, IMAGE);
    const clients: [string, string][] = [
      [CHROME, "image/avif"],
      [SAFARI_15, "image/webp"],
      [OLD, "image/jpeg"],
      ["", "image/jpeg"],
    ];
    // Twice over, in an order that would cross-serve if the variant were not in the key.
    for (const round of [1, 2]) {
      for (const [accept, type] of clients) {
        const init = accept === "" ? {} : { headers: { accept } };
        const res = await edge.send(path, init);
        expect(res.headers.get("content-type"), `${accept} round ${round}`).toBe(type);
        expect(res.text).toBe(`format=${type}`);
        expect(res.headers.get("vary")).toBe("Accept");
        if (round === 2) expect(res.headers.get("cache-status")).toMatch(/^edge; hit/);
      }
    }
    const logs = await receivedAll(path);
    // "" and OLD share the original's entry.
    expect(logs).toHaveLength(3);
    // The shield only ever sees one of three Accept values, naming the chosen format.
    expect(new Set(logs.map((l) => l.headers.accept))).toEqual(
      new Set(["image/avif", "image/webp", "image/jpeg"]),
    );
  });

  it("follows the configured format order and list", async () => {
    const edge = testEdge(cdnConfig({ images: { formats: ["webp"] } }));
    const path = uniquePath("photo.png");
    await scriptAll(path, IMAGE);
    expect((await edge.send(path, { headers: { accept: CHROME } })).text).toBe("format=image/webp");
    expect((await edge.send(path, { headers: { accept: OLD } })).text).toBe("format=image/png");
  });

  it("matches image paths case-insensitively (.JPG)", async () => {
    const edge = testEdge();
    const path = uniquePath("CAMERA.JPG");
    await scriptAll(path, IMAGE);
    const res = await edge.send(path, { headers: { accept: CHROME } });
    expect(res.text).toBe("format=image/avif");
  });

  it("adds Vary: Accept to negotiated paths only", async () => {
    const edge = testEdge();
    const page = uniquePath("index.html");
    await scriptAll(page, {
      headers: { "cache-control": "max-age=60", vary: "Accept-Encoding" },
      body: "<p>",
    });
    const res = await edge.send(page, { headers: { accept: CHROME } });
    expect(res.headers.get("vary")).toBe("Accept-Encoding");
    const img = uniquePath("a.png");
    await scriptAll(img, {
      headers: { "cache-control": "max-age=60", vary: "Accept-Encoding" },
      body: "png",
    });
    expect((await edge.send(img)).headers.get("vary")).toBe("Accept-Encoding, Accept");
  });
});

describe("transform URLs /img/<options>/<path>", () => {
  it("resolves format=auto into a concrete format in the forwarded URL and the key", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const avifPath = `/img/format=avif,width=640${source}`;
    const webpPath = `/img/format=webp,width=640${source}`;
    const jpegPath = `/img/format=jpeg,width=640${source}`;
    for (const p of [avifPath, webpPath, jpegPath]) {
      await scriptAll(p, { headers: { "cache-control": "max-age=3600" }, body: p });
    }
    const auto = `/img/width=640,format=auto${source}`;
    const a = await edge.send(auto, { headers: { accept: CHROME } });
    expect(a.text).toBe(avifPath);
    expect(a.headers.get("vary")).toBe("Accept");
    const w = await edge.send(auto, { headers: { accept: SAFARI_15 } });
    expect(w.text).toBe(webpPath);
    const j = await edge.send(auto, { headers: { accept: OLD } });
    expect(j.text).toBe(jpegPath);
    // Aliases and option order share the canonical entry.
    const again = await edge.send(`/img/f=auto,w=640${source}`, { headers: { accept: CHROME } });
    expect(again.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(avifPath)).toHaveLength(1);
    expect((await receivedAll(avifPath))[0]!.headers.accept).toBe("image/avif");
  });

  it("keys a transform by its resolved options: spellings of one pixel size share one entry", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    // Widths as asked (widthPolicy exact): 960 px, and 480 px at dpr 2, are one 960 px image.
    const first = `/img/format=webp,width=960${source}`;
    const same = [`/img/f=webp,w=960${source}`, `/img/dpr=2,format=webp,width=480${source}`];
    const other = `/img/format=webp,width=801${source}`;
    for (const p of [first, other]) {
      await scriptAll(p, { headers: { "cache-control": "max-age=3600" }, body: p });
    }
    expect((await edge.send(first)).text).toBe(first);
    for (const p of same) {
      const res = await edge.send(p);
      expect(res.text, p).toBe(first);
      expect(res.headers.get("cache-status"), p).toMatch(/^edge; hit/);
    }
    // 801 px is a size of its own: its own entry, its own request.
    const o = await edge.send(other);
    expect([o.text, o.headers.get("cache-status")]).toEqual([other, expect.stringMatching(/fwd=/)]);
    expect(await receivedAll(first)).toHaveLength(1);
    expect(await receivedAll(other)).toHaveLength(1);
  });

  it("keeps a signature in the key: an unsigned URL never hits a signed URL's entry", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const signed = `/img/sig=${"A".repeat(43)},width=640${source}`;
    const unsigned = `/img/width=640${source}`;
    await scriptAll(signed, { headers: { "cache-control": "max-age=3600" }, body: "image" });
    await scriptAll(unsigned, { status: 403, body: "missing_signature" });
    expect((await edge.send(signed)).text).toBe("image");
    const res = await edge.send(unsigned);
    expect([res.status, res.text]).toEqual([403, "missing_signature"]);
    expect(await receivedAll(unsigned)).toHaveLength(1);
  });

  it("refuses a width outside the allow-list (widthPolicy allow-list) with 400, unfetched", async () => {
    const images = { widths: [320, 640], widthPolicy: "allow-list" as const };
    const edge = testEdge(cdnConfig({ images }));
    const source = uniquePath("cat.jpg");
    const res = await edge.send(`/img/width=500${source}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: "width_not_allowed", option: "width" });
    expect(res.headers.get("cache-status")).toBe("edge; detail=width_not_allowed");
    expect(await receivedAll(`/img/width=500${source}`)).toHaveLength(0);
  });

  it("routes a transform by its source's path, so an origin with a pathPrefix serves it", async () => {
    const origins = [
      { name: "media", url: "http://127.0.0.1:9", hosts: ["edge.test"], pathPrefix: "/media/" },
    ];
    const edge = testEdge(cdnConfig({ origins }));
    const p = `/img/format=webp,width=100/media${uniquePath("a.jpg")}`;
    await scriptAll(p, { headers: { "cache-control": "max-age=60" }, body: "webp" });
    const res = await edge.send(p);
    expect([res.status, res.text]).toEqual([200, "webp"]);
    // A path the origin does not serve is still refused, transform or not.
    expect((await edge.send("/img/width=100/elsewhere/a.jpg")).status).toBe(421);
  });

  it("does not vary on Accept when the format is explicit", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const p = `/img/format=webp,width=100${source}`;
    await scriptAll(p, { headers: { "cache-control": "max-age=3600" }, body: "webp" });
    const res = await edge.send(`/img/width=100,format=webp${source}`, {
      headers: { accept: OLD },
    });
    expect(res.text).toBe("webp");
    expect(res.headers.get("vary")).toBeNull();
  });

  it.each([
    ["/img/width=abc/a.jpg", "invalid_option", "width", "width=abc: must be a whole number"],
    ["/img/colour=red/a.jpg", "unknown_option", "colour", 'unknown option "colour"'],
    ["/img/width/a.jpg", "invalid_options", undefined, 'option "width" must be written name=value'],
    ["/img/width=10,w=20/a.jpg", "invalid_option", "width", 'option "width" is given twice'],
    ["/img/fit=stretch/a.jpg", "invalid_option", "fit", "fit=stretch: must be one of"],
    ["/img/brightness=1.2/a.jpg", "unsupported_option", "brightness", "not supported"],
    ["/img/format=json/a.jpg", "unsupported_option", "format", "format=json is not supported"],
    ["/img/width=100", "invalid_options", undefined, "expected /img/<options>/<path of the image>"],
    [
      "/img/width=100/https:/evil.example/a.jpg",
      "invalid_options",
      undefined,
      "the source must be a path on this site",
    ],
  ])("answers %s with 400 %s naming %s, without any fetch", async (path, code, option, message) => {
    const edge = testEdge();
    const res = await edge.send(path);
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text) as { error: string; option?: string; message: string };
    expect([body.error, body.option]).toEqual([code, option]);
    expect(body.message).toContain(message);
    expect(res.headers.get("cache-status")).toBe(`edge; detail=${code}`);
  });
});
