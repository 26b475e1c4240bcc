import { describe, expect, it } from "vitest";
import {
  cdnConfig,
  received,
  receivedAll,
  SHIELDS,
  scriptAll,
  testEdge,
  uniquePath,
} from "./support/edge.ts";

const PLAIN = "precompressed body ".repeat(20);
// Made with node:zlib (brotliCompressSync / gzipSync) of PLAIN.
const BR = "G3sB+I1Utb8ea4OTU2VvOUgthKUIw9CTRu9IHgE=";
const GZIP = "H4sIAAAAAAAAAysoSk3Ozy0oSi0uTk1RSMpPqVQoGBWijxAAM2hbY3wBAAA=";

function bytes(base64: string): number[] {
  return [...Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))];
}

const PRECOMPRESSED = {
  headers: { "cache-control": "max-age=60", "content-type": "text/plain" },
  byEncoding: { br: BR, gzip: GZIP, identity: btoa(PLAIN) },
};

describe("precompressed bodies pass through untouched (encodeBody: manual)", () => {
  it("relays and then serves a brotli body byte for byte, with its Content-Encoding and Vary", async () => {
    const edge = testEdge();
    const path = uniquePath("app.js");
    await scriptAll(path, PRECOMPRESSED);
    const init = { headers: { "accept-encoding": "gzip, deflate, br" } };
    for (const state of ["fwd=uri-miss", "hit"]) {
      const res = await edge.send(path, init);
      expect([...res.bytes], state).toEqual(bytes(BR));
      expect(res.headers.get("content-encoding")).toBe("br");
      expect(res.headers.get("vary")).toBe("Accept-Encoding");
      expect(res.headers.get("content-length")).toBe(String(bytes(BR).length));
      expect(res.headers.get("cache-status")).toContain(`edge; ${state}`);
    }
    expect(await receivedAll(path)).toHaveLength(1);
  });

  it("stores per Accept-Encoding class: a gzip-only client never gets brotli", async () => {
    const edge = testEdge();
    const path = uniquePath("app.css");
    await scriptAll(path, PRECOMPRESSED);
    await edge.send(path, { headers: { "accept-encoding": "br, gzip" } });
    const gzipOnly = await edge.send(path, { headers: { "accept-encoding": "gzip" } });
    expect([...gzipOnly.bytes]).toEqual(bytes(GZIP));
    expect(gzipOnly.headers.get("content-encoding")).toBe("gzip");
    expect(gzipOnly.headers.get("cache-status")).toMatch(/^edge; fwd=vary-miss/);
    const identity = await edge.send(path, { headers: { "accept-encoding": "identity" } });
    expect(identity.text).toBe(PLAIN);
    expect(identity.headers.get("content-encoding")).toBeNull();
    const logs = (await Promise.all(SHIELDS.map((n) => received(n, path)))).flat();
    expect(logs.map((l) => l.headers["accept-encoding"] ?? null)).toEqual([
      "br",
      "gzip",
      "identity",
    ]);
  });
});

const CACHE_API_ONLY = cdnConfig({ edge: { memory: { enabled: false } } });

describe("the coding each client gets, from the client's own Accept-Encoding", () => {
  it("a client with an odd Accept-Encoding never evicts the common variant", async () => {
    const edge = testEdge(CACHE_API_ONLY);
    const path = uniquePath("odd.js");
    await scriptAll(path, PRECOMPRESSED);
    const chrome = { headers: { "accept-encoding": "gzip, deflate, br, zstd" } };
    await edge.send(path, chrome);
    const odd = [
      "deflate",
      "zstd",
      "identity;q=1, *;q=0",
      "x-custom-1, x-custom-2",
      "br;q=0.0001",
      "gzip;q=2",
      "*;q=0",
      "",
      ...Array.from({ length: 30 }, (_, i) => `coding-${i}`),
    ];
    for (const value of odd) {
      const res = await edge.send(path, { headers: { "accept-encoding": value } });
      expect(res.headers.get("content-encoding"), value).toBeNull();
      expect(res.text, value).toBe(PLAIN);
    }
    const hit = await edge.send(path, chrome);
    expect([...hit.bytes]).toEqual(bytes(BR));
    expect(hit.headers.get("cache-status")).toMatch(/edge; hit/);
    // One fetch for br, one for identity: every odd value is the identity variant.
    const codings = (await receivedAll(path)).map((l) => l.headers["accept-encoding"]);
    expect(codings).toEqual(["br", "identity"]);
  });

  it("keys by the Accept-Encoding the runtime says the client sent, not the one it shows", async () => {
    const edge = testEdge(CACHE_API_ONLY);
    const path = uniquePath("app.js");
    await scriptAll(path, PRECOMPRESSED);
    // The runtime shows the Worker "br, gzip" and keeps the client's own value in cf.
    const seen = { "accept-encoding": "br, gzip" };
    const gzipOnly = await edge.send(path, { headers: seen, cf: { clientAcceptEncoding: "gzip" } });
    expect([...gzipOnly.bytes]).toEqual(bytes(GZIP));
    expect(gzipOnly.headers.get("content-encoding")).toBe("gzip");
    const none = await edge.send(path, { headers: seen, cf: { clientAcceptEncoding: "" } });
    expect(none.text).toBe(PLAIN);
    expect(none.headers.get("content-encoding")).toBeNull();
    expect(none.headers.get("content-length")).toBe(String(PLAIN.length));
    const br = await edge.send(path, { headers: seen, cf: { clientAcceptEncoding: "br" } });
    expect([...br.bytes]).toEqual(bytes(BR));
    expect((await receivedAll(path)).map((l) => l.headers["accept-encoding"])).toEqual([
      "gzip",
      "identity",
      "br",
    ]);
  });

  it("keeps the coded length on hits from the Cache API (Content-Length of the coded bytes)", async () => {
    const edge = testEdge(CACHE_API_ONLY);
    const path = uniquePath("app.js");
    await scriptAll(path, PRECOMPRESSED);
    const init = { headers: { "accept-encoding": "gzip" } };
    await edge.send(path, init);
    const hit = await edge.send(path, init);
    expect(hit.headers.get("cache-status")).toMatch(/edge; hit/);
    expect(hit.headers.get("content-length")).toBe(String(bytes(GZIP).length));
    expect([...hit.bytes]).toEqual(bytes(GZIP));
  });

  it("never stores a body in a coding it did not ask for (a shield sending br to identity)", async () => {
    const edge = testEdge(CACHE_API_ONLY);
    const path = uniquePath("wrong.js");
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", "content-encoding": "br", vary: "Accept-Encoding" },
      bodyBase64: BR,
    });
    const first = await edge.send(path, { headers: { "accept-encoding": "identity" } });
    expect(first.headers.get("cache-status")).toMatch(/detail=coding-mismatch/);
    const second = await edge.send(path, { headers: { "accept-encoding": "identity" } });
    expect(second.headers.get("cache-status")).not.toMatch(/edge; hit/);
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it("treats a coded response as varying on Accept-Encoding even when its Vary forgot to say so", async () => {
    const edge = testEdge(CACHE_API_ONLY);
    const path = uniquePath("novary.css");
    await scriptAll(
      path,
      { headers: { "cache-control": "max-age=60", "content-encoding": "br" }, bodyBase64: BR },
      { headers: { "cache-control": "max-age=60", "content-encoding": "gzip" }, bodyBase64: GZIP },
    );
    await edge.send(path, { headers: { "accept-encoding": "br" } });
    const gzip = await edge.send(path, { headers: { "accept-encoding": "gzip" } });
    expect([...gzip.bytes]).toEqual(bytes(GZIP));
    expect(gzip.headers.get("cache-status")).toMatch(/edge; fwd=vary-miss/);
    const brAgain = await edge.send(path, { headers: { "accept-encoding": "br" } });
    expect([...brAgain.bytes]).toEqual(bytes(BR));
    expect(brAgain.headers.get("cache-status")).toMatch(/edge; hit/);
    // Stored copies say so, for the caches after this one (RFC 9110 §12.5.5).
    expect(brAgain.headers.get("vary")).toBe("Accept-Encoding");
  });
});
