/**
 * The parts of compression at the shield, each on its own: which responses are
 * transformed and which say Vary (treatment.ts), the ETags of encoded copies
 * (etag.ts), the codecs and their bound against decompression bombs (codec.ts), the
 * bounded queue of stored re-encodes (reencode.ts), and the config's checks.
 */
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../core/config/index.ts";
import { decodeBounded, encodeStream, encodeWhole } from "../../../origin-shield/compress/codec.ts";
import { codedEtag, namesCopyOf } from "../../../origin-shield/compress/etag.ts";
import { peekSmall } from "../../../origin-shield/compress/peek.ts";
import { ReencodeQueue } from "../../../origin-shield/compress/reencode.ts";
import { addVary, TypeMatcher, treatmentFor } from "../../../origin-shield/compress/treatment.ts";
import { OriginError } from "../../../origin-shield/origin/origin-error.ts";
import type { ShieldResponse } from "../../../origin-shield/respond.ts";

const config = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["a.test"] }],
});
const options = {
  config: config.compression,
  types: new TypeMatcher(config.compression.types),
  maxBytes: 1_000_000,
};

describe("treatment: what is sent to a client that takes a coding", () => {
  const cases: [string, "br" | "gzip" | "identity", number, string[], string][] = [
    [
      "HTML for a br client",
      "br",
      200,
      ["content-type", "text/html", "content-length", "5000"],
      "transform identity",
    ],
    [
      "JSON of unknown length",
      "gzip",
      200,
      ["content-type", "application/json"],
      "transform identity",
    ],
    [
      "a +json type",
      "br",
      200,
      ["content-type", "application/problem+json", "content-length", "5000"],
      "transform identity",
    ],
    [
      "SVG",
      "br",
      200,
      ["content-type", "image/svg+xml", "content-length", "5000"],
      "transform identity",
    ],
    [
      "wasm",
      "br",
      200,
      ["content-type", "application/wasm", "content-length", "5000"],
      "transform identity",
    ],
    [
      "HTML for an identity client",
      "identity",
      200,
      ["content-type", "text/html", "content-length", "5000"],
      "as-is varies",
    ],
    ["a PNG", "br", 200, ["content-type", "image/png", "content-length", "5000"], "as-is"],
    ["a video", "br", 200, ["content-type", "video/mp4", "content-length", "5000"], "as-is"],
    ["a zip", "gzip", 200, ["content-type", "application/zip", "content-length", "5000"], "as-is"],
    ["no Content-Type", "br", 200, ["content-length", "5000"], "as-is"],
    ["under minBytes", "br", 200, ["content-type", "text/css", "content-length", "1023"], "as-is"],
    [
      "over the object bound",
      "br",
      200,
      ["content-type", "text/css", "content-length", "1000001"],
      "as-is",
    ],
    [
      "no-transform",
      "br",
      200,
      ["content-type", "text/html", "cache-control", "public, No-Transform"],
      "as-is",
    ],
    ["a 404 page", "br", 404, ["content-type", "text/html", "content-length", "5000"], "as-is"],
    ["a 206", "br", 206, ["content-type", "text/html", "content-length", "5000"], "as-is"],
    [
      "gzip from the origin, gzip client",
      "gzip",
      200,
      ["content-type", "text/html", "content-encoding", "gzip"],
      "as-is varies",
    ],
    [
      "gzip from the origin, identity client",
      "identity",
      200,
      ["content-type", "text/html", "content-encoding", "gzip"],
      "transform gzip",
    ],
    [
      "x-gzip from the origin, br client",
      "br",
      200,
      ["content-type", "text/html", "content-encoding", "x-gzip"],
      "transform gzip",
    ],
    [
      "br from the origin, gzip client",
      "gzip",
      200,
      ["content-type", "image/png", "content-encoding", "br"],
      "transform br",
    ],
    [
      "zstd from the origin",
      "identity",
      200,
      ["content-type", "text/html", "content-encoding", "zstd"],
      "as-is",
    ],
    [
      "two codings from the origin",
      "identity",
      200,
      ["content-type", "text/html", "content-encoding", "gzip, br"],
      "as-is",
    ],
    [
      "gzip over the bound",
      "identity",
      200,
      ["content-type", "text/html", "content-encoding", "gzip", "content-length", "1000001"],
      "as-is",
    ],
  ];
  it.each(cases)("%s", (_name, coding, status, flat, expected) => {
    const t = treatmentFor(options, coding, status, flat);
    const got =
      t.kind === "transform" ? `transform ${t.from}` : t.varies ? "as-is varies" : "as-is";
    expect(got).toBe(expected);
  });

  it("a configured list cannot make already-compressed types compressible", () => {
    const types = new TypeMatcher(["image/*", "video/*", "application/zip", "text/*"]);
    expect(types.compressible("image/jpeg")).toBe(false);
    expect(types.compressible("video/webm")).toBe(false);
    expect(types.compressible("application/zip")).toBe(false);
    expect(types.compressible("image/svg+xml")).toBe(true);
    expect(types.compressible("TEXT/Plain; charset=utf-8")).toBe(true);
  });
});

describe("Vary: Accept-Encoding merged with the origin's Vary (RFC 9110 §12.5.5)", () => {
  const cases: [string[], string[]][] = [
    [[], ["vary", "Accept-Encoding"]],
    [
      ["vary", "Origin"],
      ["vary", "Origin, Accept-Encoding"],
    ],
    [
      ["vary", "accept-encoding"],
      ["vary", "accept-encoding"],
    ],
    [
      ["vary", "Origin", "vary", "Accept-Encoding"],
      ["vary", "Origin", "vary", "Accept-Encoding"],
    ],
    [
      ["vary", "*"],
      ["vary", "*"],
    ],
  ];
  it.each(cases)("%j → %j", (flat, expected) => {
    const copy = flat.slice();
    addVary(copy);
    expect(copy).toEqual(expected);
  });
});

describe("ETags of encoded copies (RFC 9110 §8.8.3)", () => {
  it("suffix the coding and level inside the quotes, weakness kept; no tag without a source tag", () => {
    expect(codedEtag('"abc"', "br", 11)).toBe('"abc-br11"');
    expect(codedEtag('"abc"', "gzip", 6)).toBe('"abc-gz6"');
    expect(codedEtag('W/"abc"', "br", 4)).toBe('W/"abc-br4"');
    expect(codedEtag('"abc"', "identity", 0)).toBe('"abc-id"');
    expect(codedEtag(undefined, "br", 4)).toBeUndefined();
    expect(codedEtag("not-quoted", "br", 4)).toBeUndefined();
  });

  it("a revalidation names a copy of the source's current bytes at any level of the same coding", () => {
    const inm = (v: string) => [["if-none-match", v]] as [string, string][];
    expect(namesCopyOf(inm('"abc-br4"'), '"abc"', "br")).toBe(true);
    expect(namesCopyOf(inm('"x", "abc-br11"'), '"abc"', "br")).toBe(true);
    expect(namesCopyOf(inm('"abc-gz6"'), '"abc"', "br")).toBe(false);
    expect(namesCopyOf(inm('"abc-br4"'), '"abd"', "br")).toBe(false);
    expect(namesCopyOf(inm('"abc-br4x"'), '"abc"', "br")).toBe(false);
    expect(namesCopyOf(inm('"abc"'), '"abc"', "br")).toBe(false);
  });
});

describe("codecs", () => {
  const text = Buffer.from("<li>an item of a list</li>\n".repeat(4000));

  it("whole and streamed encodes decode to the input", async () => {
    expect(brotliDecompressSync(await encodeWhole("br", 4, text)).equals(text)).toBe(true);
    expect(gunzipSync(await encodeWhole("gzip", 6, text)).equals(text)).toBe(true);
    async function* chunks() {
      for (let at = 0; at < text.length; at += 7_000) yield text.subarray(at, at + 7_000);
    }
    let seen = 0;
    const out: Buffer[] = [];
    for await (const c of encodeStream(chunks(), "br", 5, null, (c) => (seen += c.length)))
      out.push(c);
    expect(seen).toBe(text.length);
    expect(brotliDecompressSync(Buffer.concat(out)).equals(text)).toBe(true);
  });

  it("a streamed encode of a body cut by the origin fails with the origin's error", async () => {
    async function* cut() {
      yield text.subarray(0, 10_000);
      throw new OriginError("reset", "cut");
    }
    const read = async () => {
      for await (const _ of encodeStream(cut(), "gzip", 6, null, () => {})) {
        // drain
      }
    };
    await expect(read()).rejects.toMatchObject({ kind: "reset", message: "cut" });
  });

  it("a decompression bomb stops at the bound instead of inflating", async () => {
    const member = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    const bomb = Buffer.concat(Array.from({ length: 64 }, () => member)); // 512 MiB decoded
    const before = process.memoryUsage().arrayBuffers;
    expect(await decodeBounded("gzip", bomb, 4 * 1024 * 1024)).toBe("too-large");
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect(await decodeBounded("gzip", Buffer.from("not gzip"), 1024)).toBe("corrupt");
    const fine = await decodeBounded("gzip", gzipSync(text), text.length);
    expect(Buffer.isBuffer(fine) && fine.equals(text)).toBe(true);
  });
});

describe("the re-encode queue", () => {
  it("runs at most its concurrency at once and drops work beyond its bound", async () => {
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const job = (bytes: number) => ({
      bytes,
      run: async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => release.push(r));
        running--;
      },
    });
    const q = new ReencodeQueue({ concurrency: 1, maxJobs: 2, maxBytes: 100, failed: () => {} });
    expect(q.offer(job(10))).toBe(true); // runs
    expect(q.offer(job(10))).toBe(true); // waits
    expect(q.offer(job(95))).toBe(false); // over the byte bound
    expect(q.offer(job(10))).toBe(true); // waits
    expect(q.offer(job(10))).toBe(false); // over the job bound
    while (q.size > 0) {
      await new Promise((r) => setImmediate(r));
      release.shift()?.();
    }
    await q.idle();
    expect(most).toBe(1);
  });
});

describe("compression config", () => {
  const base = { origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["a.test"] }] };
  const issue = (compression: unknown): string => {
    try {
      parseConfig({ ...base, compression });
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    return "valid";
  };

  it("has defaults: on, br 5 on a miss and 11 stored, gzip 6, 1 KiB at least", () => {
    const c = config.compression;
    expect([c.enabled, c.brotliLevel, c.brotliStoredLevel, c.gzipLevel, c.minBytes]).toEqual([
      true,
      5,
      11,
      6,
      1024,
    ]);
    expect(c.types).toContain("text/*");
  });

  it.each([
    [{ brotliLevel: 12 }, "compression.brotliLevel: must be between 0 and 11"],
    [{ brotliStoredLevel: -1 }, "compression.brotliStoredLevel: must be between 0 and 11"],
    [
      { brotliLevel: 9, brotliStoredLevel: 5 },
      "compression.brotliStoredLevel: must be ≥ brotliLevel (9)",
    ],
    [{ gzipLevel: 0 }, "compression.gzipLevel: must be between 1 and 9"],
    [{ gzipLevel: 4.5 }, "compression.gzipLevel: must be a whole number"],
    [{ minBytes: -1 }, "compression.minBytes: must be ≥ 0"],
    [{ types: ["text"] }, "compression.types[0]"],
    [{ types: [] }, "compression.types: must list at least one media type"],
    [{ level: 3 }, "compression"],
  ])("refuses %j at startup, naming the field", (compression, message) => {
    expect(issue(compression)).toContain(message);
  });
});

describe("a body of unknown length, measured against minBytes", () => {
  const answer = (chunks: Buffer[], fail?: Error): ShieldResponse => ({
    status: 200,
    headers: ["content-type", "text/html"],
    outcome: "miss",
    body: {
      close() {},
      async *[Symbol.asyncIterator]() {
        yield* chunks;
        if (fail !== undefined) throw fail;
      },
    },
  });
  const read = async (r: ShieldResponse): Promise<Buffer> => {
    const body = r.body;
    if (body === null || Buffer.isBuffer(body)) return body ?? Buffer.alloc(0);
    const out: Buffer[] = [];
    for await (const c of body) out.push(c);
    return Buffer.concat(out);
  };

  it("a short one is read whole and given its Content-Length", async () => {
    const p = await peekSmall(answer([Buffer.from("ab"), Buffer.from("c")]), 10);
    expect(p.small).toBe(true);
    expect(p.answer.body).toEqual(Buffer.from("abc"));
    expect(p.answer.headers).toEqual(["content-type", "text/html", "content-length", "3"]);
  });

  it("a long one keeps streaming, the bytes read put back in front", async () => {
    const chunks = [Buffer.alloc(6, 1), Buffer.alloc(6, 2), Buffer.alloc(6, 3)];
    const p = await peekSmall(answer(chunks), 10);
    expect(p.small).toBe(false);
    expect((await read(p.answer)).equals(Buffer.concat(chunks))).toBe(true);
  });

  it("a body that fails while measured fails for the client too", async () => {
    const cut = new OriginError("reset", "cut");
    const p = await peekSmall(answer([Buffer.alloc(4)], cut), 10);
    await expect(read(p.answer)).rejects.toBe(cut);
  });
});
