import { describe, expect, it } from "vitest";
import { received, receivedAll, SHIELDS, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

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
      "br, gzip",
      "gzip",
      null,
    ]);
  });
});
