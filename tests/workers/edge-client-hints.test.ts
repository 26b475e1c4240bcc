/**
 * Client Hints at the edge: width=auto and dpr=auto resolve from Sec-CH-Width,
 * Sec-CH-Viewport-Width and Sec-CH-DPR (or their legacy forms) into concrete values
 * before keying and forwarding, so the shield only ever sees, and the key only ever
 * names, concrete steps; the response says Vary on the hints; and HTML responses ask for
 * the hints when images.clientHints.advertise is on.
 */
import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const IMAGE = { headers: { "cache-control": "max-age=3600" }, body: "image" } as const;
const WIDTH_VARY = "Sec-CH-Width, Width, Sec-CH-Viewport-Width, Viewport-Width, Sec-CH-DPR, DPR";
const ADVERTISED = "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width";

describe("width=auto and dpr=auto at the edge", () => {
  it("resolves width=auto from Sec-CH-Width into a step in the forwarded URL and the key", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const resolved = `/img/format=webp,width=720${source}`;
    await scriptAll(resolved, { ...IMAGE, body: resolved });
    const auto = `/img/width=auto,format=webp${source}`;
    const first = await edge.send(auto, { headers: { "sec-ch-width": "700" } });
    expect([first.status, first.text]).toEqual([200, resolved]);
    expect(first.headers.get("vary")).toBe(WIDTH_VARY);
    // Another width of the same step, the legacy hint, and the URL written out: one entry.
    for (const [path, headers] of [
      [auto, { "sec-ch-width": "715" }],
      [auto, { width: "701" }],
      [auto, { "sec-ch-viewport-width": "360", "sec-ch-dpr": "2" }],
      [resolved, {}],
    ] as const) {
      const res = await edge.send(path, { headers });
      expect(res.headers.get("cache-status"), JSON.stringify(headers)).toMatch(/^edge; hit/);
      expect(res.text).toBe(resolved);
    }
    const logs = await receivedAll(resolved);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.url).toBe(resolved);
  });

  it("gives another step its own entry and request", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const small = `/img/format=webp,width=480${source}`;
    const large = `/img/format=webp,width=1080${source}`;
    await scriptAll(small, { ...IMAGE, body: "small" });
    await scriptAll(large, { ...IMAGE, body: "large" });
    const auto = `/img/format=webp,width=auto${source}`;
    expect((await edge.send(auto, { headers: { "sec-ch-width": "450" } })).text).toBe("small");
    expect((await edge.send(auto, { headers: { "sec-ch-width": "1000" } })).text).toBe("large");
    expect(await receivedAll(small)).toHaveLength(1);
    expect(await receivedAll(large)).toHaveLength(1);
  });

  it("resolves dpr=auto from Sec-CH-DPR, varying on the ratio only", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const resolved = `/img/dpr=2,format=webp,width=320${source}`;
    await scriptAll(resolved, IMAGE);
    const res = await edge.send(`/img/dpr=auto,format=webp,width=320${source}`, {
      headers: { "sec-ch-dpr": "1.75" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("vary")).toBe("Sec-CH-DPR, DPR");
    expect(await receivedAll(resolved)).toHaveLength(1);
    // 320 at dpr 2 is 640 px: the explicit URL for 640 px shares the entry.
    const same = await edge.send(`/img/format=webp,width=640${source}`);
    expect(same.headers.get("cache-status")).toMatch(/^edge; hit/);
  });

  it("without hints, width=auto means no resize and dpr=auto a ratio of 1, still varying", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const resolved = `/img/format=webp${source}`;
    await scriptAll(resolved, IMAGE);
    const res = await edge.send(`/img/dpr=auto,format=webp,width=auto${source}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("vary")).toBe(WIDTH_VARY);
    expect(await receivedAll(resolved)).toHaveLength(1);
  });

  it("varies on Accept and the hints together for format=auto,width=auto", async () => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const resolved = `/img/format=avif,width=640${source}`;
    await scriptAll(resolved, IMAGE);
    const res = await edge.send(`/img/f=auto,w=auto${source}`, {
      headers: { accept: "image/avif,image/webp,*/*", "sec-ch-width": "640" },
    });
    expect(res.headers.get("vary")).toBe(`Accept, ${WIDTH_VARY}`);
    expect(await receivedAll(resolved)).toHaveLength(1);
  });

  it.each([
    ["a negative width", { "sec-ch-width": "-640" }, "/img/format=webp"],
    ["a width with a unit", { "sec-ch-width": "640px" }, "/img/format=webp"],
    ["ten thousand digits", { "sec-ch-width": "9".repeat(10_000) }, "/img/format=webp"],
    [
      "NaN as the ratio",
      { "sec-ch-dpr": "NaN", "sec-ch-viewport-width": "400" },
      "/img/format=webp,width=420",
    ],
    ["a huge width", { "sec-ch-width": "999999999" }, "/img/format=webp,width=3840"],
    [
      "a huge ratio",
      { "sec-ch-dpr": "999", "sec-ch-viewport-width": "400" },
      "/img/format=webp,width=1280",
    ],
  ])("ignores or clamps %s, never a 500", async (_, headers, prefix) => {
    const edge = testEdge();
    const source = uniquePath("cat.jpg");
    const resolved = `${prefix}${source}`;
    await scriptAll(resolved, IMAGE);
    const res = await edge.send(`/img/format=webp,width=auto${source}`, { headers });
    expect(res.status).toBe(200);
    expect(await receivedAll(resolved)).toHaveLength(1);
  });

  it("with clientHints.enabled off, ignores the hints and does not vary", async () => {
    const edge = testEdge(cdnConfig({ images: { clientHints: { enabled: false } } }));
    const source = uniquePath("cat.jpg");
    const resolved = `/img/format=webp${source}`;
    await scriptAll(resolved, IMAGE);
    const res = await edge.send(`/img/format=webp,width=auto${source}`, {
      headers: { "sec-ch-width": "700" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("vary")).toBeNull();
    expect(await receivedAll(resolved)).toHaveLength(1);
  });
});

describe("asking browsers for the hints (Accept-CH)", () => {
  const page = {
    headers: { "cache-control": "max-age=60", "content-type": "text/html; charset=utf-8" },
    body: "<p>",
  };

  it("adds Accept-CH to HTML responses when advertise is on, hit or miss", async () => {
    const edge = testEdge(cdnConfig({ images: { clientHints: { advertise: true } } }));
    const path = uniquePath("index.html");
    await scriptAll(path, page);
    for (const round of ["miss", "hit"]) {
      const res = await edge.send(path);
      expect(res.headers.get("accept-ch"), round).toBe(ADVERTISED);
      expect(res.headers.get("critical-ch"), round).toBeNull();
    }
    const img = uniquePath("a.png");
    await scriptAll(img, { ...IMAGE, headers: { ...IMAGE.headers, "content-type": "image/png" } });
    expect((await edge.send(img)).headers.get("accept-ch")).toBeNull();
  });

  it("keeps the origin's own Accept-CH, and adds Critical-CH when configured", async () => {
    const edge = testEdge(
      cdnConfig({ images: { clientHints: { advertise: true, critical: true } } }),
    );
    const path = uniquePath("index.html");
    await scriptAll(path, {
      ...page,
      headers: { ...page.headers, "accept-ch": "Sec-CH-UA-Model" },
    });
    const res = await edge.send(path);
    expect(res.headers.get("accept-ch")).toBe(`Sec-CH-UA-Model, ${ADVERTISED}`);
    expect(res.headers.get("critical-ch")).toBe(ADVERTISED);
  });

  it("leaves HTML alone by default", async () => {
    const edge = testEdge();
    const path = uniquePath("index.html");
    await scriptAll(path, page);
    expect((await edge.send(path)).headers.get("accept-ch")).toBeNull();
  });
});
