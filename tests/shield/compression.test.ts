/**
 * Compression at the shield, against a real shield on loopback and an origin that counts
 * requests: one origin fetch gives every coding (br, gzip, identity), each stored once and
 * served from stored bytes with its own Content-Encoding, Content-Length, Vary and ETag
 * (RFC 9110 §8.4, §8.8.3, §12.5.3); the br copy is replaced by its high-level encode;
 * what must not be compressed is not; an origin's own compression passes through or is
 * decoded within a bound; conditional requests, ranges and HEAD work on each coding;
 * private answers stay private; purging a URL removes every coding.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type OriginHandler, startOrigin } from "../helpers/origin.ts";
import type { TestShield } from "../helpers/shield.ts";
import { testShield } from "../helpers/shield.ts";
import { compressed, decode, htmlPage, jsonDocument, raw } from "./compression-support.ts";
import { harness } from "./support.ts";

const h = harness();
const TOKEN = "compression-test-token";
const BROWSER = { "accept-encoding": "gzip, deflate, br, zstd" };
const GZIP_ONLY = { "accept-encoding": "gzip" };
const IDENTITY = { "accept-encoding": "identity" };

const page = htmlPage();
const json = jsonDocument();

/** Serves `body` as `type` with a strong ETag, answering If-None-Match with 304. */
function serving(body: Buffer, type: string, extra: Record<string, string> = {}): OriginHandler {
  return (req, res) => {
    const headers = {
      "content-type": type,
      "cache-control": "max-age=60",
      etag: '"v1"',
      ...extra,
    };
    if (req.headers["if-none-match"] === '"v1"') {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, "content-length": String(body.length) });
    res.end(body);
  };
}

/** Waits for the stored br copy's background re-encode to have replaced it. */
async function reencoded(t: TestShield, times = 1): Promise<void> {
  let n = 0;
  const poll = async () => {
    n = await compressed(t, "br", "reencoded");
  };
  await poll();
  const deadline = Date.now() + 10_000;
  while (n < times && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    await poll();
  }
  expect(n).toBe(times);
}

describe("one object, three codings (RFC 9110 §12.5.3)", () => {
  it("br, gzip and identity clients of one URL cost one origin fetch, and each gets the right bytes and fields", async () => {
    const { origin, t } = await h.start(
      serving(page, "text/html; charset=utf-8", { vary: "Origin" }),
    );
    const base = await t.listen();
    const br = await raw(base, "/page", BROWSER);
    const gz = await raw(base, "/page", GZIP_ONLY);
    const id = await raw(base, "/page", IDENTITY);
    const none = await raw(base, "/page");
    expect(origin.count()).toBe(1);
    // The origin is asked with the one coding the shield chose, never a coding it cannot read.
    expect(origin.requests[0]?.headers["accept-encoding"]).toBe("br");

    expect(br.headers["content-encoding"]).toBe("br");
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(id.headers["content-encoding"]).toBeUndefined();
    expect(none.headers["content-encoding"]).toBeUndefined();
    for (const res of [br, gz, id, none]) {
      expect(res.status).toBe(200);
      expect(decode(res).equals(page)).toBe(true);
      expect(Number(res.headers["content-length"])).toBe(res.body.length);
      // Merged with the origin's own Vary (RFC 9110 §12.5.5).
      expect(res.headers.vary).toBe("Origin, Accept-Encoding");
    }
    expect(br.body.length).toBeLessThan(page.length / 4);
    expect(gz.body.length).toBeLessThan(page.length / 4);
    // A strong ETag names one byte sequence (RFC 9110 §8.8.3): one per coding.
    expect(id.headers.etag).toBe('"v1"');
    expect(br.headers.etag).toBe('"v1-br5"');
    expect(gz.headers.etag).toBe('"v1-gz6"');
  });

  it.each([
    ["24 KiB", page],
    ["600 KiB, streamed as it is encoded", htmlPage(600)],
  ])(
    "a herd of br and gzip clients on a cold URL (%s) costs one origin fetch and one encode per coding",
    async (_size, body) => {
      const { origin, t } = await h.start((req, res) => {
        // Slow enough that the whole herd arrives while the first fetch is under way.
        setTimeout(() => serving(body, "text/html")(req, res, {} as never), 100);
      });
      const base = await t.listen();
      const herd = await Promise.all(
        Array.from({ length: 60 }, (_, i) => raw(base, "/page", i % 3 === 0 ? GZIP_ONLY : BROWSER)),
      );
      for (const res of herd) {
        expect(res.status).toBe(200);
        expect(decode(res).equals(body)).toBe(true);
      }
      // A large body goes out as it is encoded: chunked, before its length is known.
      const streamed = herd.filter((r) => r.headers["content-length"] === undefined).length;
      expect(streamed > 0).toBe(body.length > 256 * 1024);
      expect(origin.count()).toBe(1);
      expect(await compressed(t, "br", "encoded")).toBe(1);
      expect(await compressed(t, "gzip", "encoded")).toBe(1);
    },
  );

  it("a hit serves the stored bytes and compresses nothing", async () => {
    const { origin, t } = await h.start(serving(json, "application/json"));
    const base = await t.listen();
    const first = await raw(base, "/api/items", GZIP_ONLY);
    const encodes = await compressed(t, "gzip", "encoded");
    expect(encodes).toBe(1);
    for (let i = 0; i < 3; i++) {
      const again = await raw(base, "/api/items", {
        "accept-encoding": "GZIP;q=1, identity;q=0.5",
      });
      expect(again.headers["cache-status"]).toBe("shield; hit; ttl=60");
      expect(again.body.equals(first.body)).toBe(true);
      expect(again.headers.etag).toBe(first.headers.etag);
    }
    expect(await compressed(t, "gzip", "encoded")).toBe(encodes);
    expect(origin.count()).toBe(1);
  });

  it("the br copy made on the miss is replaced by its brotliStoredLevel encode: smaller, with its own ETag", async () => {
    const { origin, t } = await h.start(serving(page, "text/html"));
    const base = await t.listen();
    const fast = await raw(base, "/page", BROWSER);
    expect(fast.headers.etag).toBe('"v1-br5"');
    await reencoded(t);
    const stored = await raw(base, "/page", BROWSER);
    expect(stored.headers["cache-status"]).toBe("shield; hit; ttl=60");
    expect(stored.headers.etag).toBe('"v1-br11"');
    expect(stored.body.length).toBeLessThan(fast.body.length);
    expect(Number(stored.headers["content-length"])).toBe(stored.body.length);
    expect(decode(stored).equals(page)).toBe(true);
    // Hits after the replacement encode nothing more.
    await raw(base, "/page", BROWSER);
    expect(await compressed(t, "br", "encoded")).toBe(1);
    expect(await compressed(t, "br", "reencoded")).toBe(1);
    expect(origin.count()).toBe(1);
  });

  it("a client that takes no coding at all (identity;q=0, *;q=0) gets the plain bytes", async () => {
    const { t } = await h.start(serving(page, "text/html"));
    const base = await t.listen();
    await raw(base, "/page", BROWSER);
    const res = await raw(base, "/page", { "accept-encoding": "identity;q=0, *;q=0" });
    expect(res.status).toBe(200);
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.body.equals(page)).toBe(true);
  });
});

describe("what is never compressed", () => {
  it("leaves a response with Cache-Control: no-transform untouched (RFC 9111 §5.2.2.6)", async () => {
    const { t } = await h.start(
      serving(page, "text/html", { "cache-control": "max-age=60, no-transform" }),
    );
    const base = await t.listen();
    for (let i = 0; i < 2; i++) {
      const res = await raw(base, "/page", BROWSER);
      expect(res.headers["content-encoding"]).toBeUndefined();
      expect(res.headers.etag).toBe('"v1"');
      expect(res.headers.vary).toBeUndefined();
      expect(res.body.equals(page)).toBe(true);
    }
    expect(await compressed(t, "br", "encoded")).toBe(0);
  });

  it("leaves images and archives untouched, whatever the client accepts", async () => {
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(8192, 7)]);
    const { t } = await h.start((req, res) => {
      const type = req.url === "/a.png" ? "image/png" : "application/zip";
      res.writeHead(200, { "content-type": type, "cache-control": "max-age=60" });
      res.end(png);
    });
    const base = await t.listen();
    for (const path of ["/a.png", "/a.zip", "/a.png"]) {
      const res = await raw(base, path, BROWSER);
      expect(res.headers["content-encoding"]).toBeUndefined();
      expect(res.headers.vary).toBeUndefined();
      expect(res.body.equals(png)).toBe(true);
    }
    expect(await compressed(t, "br", "encoded")).toBe(0);
  });

  it("leaves bodies under minBytes untouched", async () => {
    const small = Buffer.from("<p>short</p>".repeat(40)); // 480 bytes
    const { t } = await h.start(serving(small, "text/html"));
    const base = await t.listen();
    const res = await raw(base, "/small", BROWSER);
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.body.equals(small)).toBe(true);
  });

  it("measures a body sent without Content-Length: a short one goes as it is, a long one is compressed", async () => {
    const { t } = await h.start((req, res) => {
      const body = req.url === "/short" ? Buffer.from("<p>short</p>") : page;
      res.writeHead(200, { "content-type": "text/html", "cache-control": "max-age=60" });
      // Written in two parts after the head: the origin's answer is chunked.
      res.write(body.subarray(0, 5));
      setTimeout(() => res.end(body.subarray(5)), 10);
    });
    const base = await t.listen();
    const short = await raw(base, "/short", BROWSER);
    expect(short.headers["content-encoding"]).toBeUndefined();
    expect(short.body.toString()).toBe("<p>short</p>");
    const long = await raw(base, "/long", BROWSER);
    expect(long.headers["content-encoding"]).toBe("br");
    expect(decode(long).equals(page)).toBe(true);
  });

  it("never compresses a body the origin compressed: passed through to a gzip client, decoded for an identity client, re-coded for a br client", async () => {
    const zipped = gzipSync(page);
    const { origin, t } = await h.start((_req, res) => {
      // An origin that compresses whatever the client said, without Vary.
      res.writeHead(200, {
        "content-type": "text/html",
        "content-encoding": "gzip",
        "cache-control": "max-age=60",
        etag: '"z1"',
        "content-length": String(zipped.length),
      });
      res.end(zipped);
    });
    const base = await t.listen();
    const gz = await raw(base, "/page", GZIP_ONLY);
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.body.equals(zipped)).toBe(true);
    expect(gz.headers.etag).toBe('"z1"');
    const id = await raw(base, "/page", IDENTITY);
    expect(id.headers["content-encoding"]).toBeUndefined();
    expect(id.body.equals(page)).toBe(true);
    expect(id.headers.etag).toBe('"z1-id"');
    const br = await raw(base, "/page", BROWSER);
    expect(br.headers["content-encoding"]).toBe("br");
    expect(decode(br).equals(page)).toBe(true);
    for (const res of [gz, id, br]) expect(res.headers.vary).toBe("Accept-Encoding");
    // Decoded once and stored: the next identity client is a hit.
    const again = await raw(base, "/page", IDENTITY);
    expect(again.headers["cache-status"]).toBe("shield; hit; ttl=60");
    expect(again.body.equals(page)).toBe(true);
    expect(await compressed(t, "gzip", "decoded")).toBe(2);
    expect(origin.count()).toBe(1);
  });
});

describe("a hostile origin", () => {
  it("a 10 MB gzip bomb is refused for a client that needs it decoded, without inflating past the bound; a gzip client gets it as sent", async () => {
    // 10 MiB of zeros compress to about 10 KiB; a thousand such members make a 10 MB
    // body that would decode to 10 GiB.
    const member = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    const bomb = Buffer.concat(
      Array.from({ length: Math.ceil(10_000_000 / member.length) }, () => member),
    );
    const { t } = await h.start((_req, res) => {
      res.writeHead(200, {
        "content-type": "text/html",
        "content-encoding": "gzip",
        "cache-control": "max-age=60",
        "content-length": String(bomb.length),
      });
      res.end(bomb);
    });
    const base = await t.listen();
    const before = process.memoryUsage();
    const id = await raw(base, "/bomb", IDENTITY);
    const after = process.memoryUsage();
    expect(id.status).toBe(502);
    expect(JSON.parse(id.body.toString()).error).toBe("bad_origin_response");
    expect(await compressed(t, "gzip", "too_large")).toBe(1);
    // The decoder stopped at the bound (16 MiB by default): nowhere near 10 GiB.
    const grown = after.arrayBuffers + after.rss - before.arrayBuffers - before.rss;
    expect(grown).toBeLessThan(512 * 1024 * 1024);
    const gz = await raw(base, "/bomb", GZIP_ONLY);
    expect(gz.status).toBe(200);
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.body.length).toBe(bomb.length);
  });
});

describe("conditional requests, ranges and HEAD on each coding", () => {
  it("If-None-Match with a coding's ETag gets 304 for that coding only (RFC 9110 §13.1.2)", async () => {
    const { t } = await h.start(serving(page, "text/html"));
    const base = await t.listen();
    const gz = await raw(base, "/page", GZIP_ONLY);
    const tag = gz.headers.etag as string;
    const same = await raw(base, "/page", { ...GZIP_ONLY, "if-none-match": tag });
    expect(same.status).toBe(304);
    expect(same.headers.etag).toBe(tag);
    expect(same.body.length).toBe(0);
    // The gzip copy's tag names other bytes than the identity body.
    const other = await raw(base, "/page", { ...IDENTITY, "if-none-match": tag });
    expect(other.status).toBe(200);
    expect(other.body.equals(page)).toBe(true);
  });

  it("a Range on the br copy is served from its stored bytes, and If-Range takes its ETag (RFC 9110 §14.2, §13.1.5)", async () => {
    const { t } = await h.start(serving(page, "text/html"));
    const base = await t.listen();
    await raw(base, "/page", BROWSER);
    await reencoded(t);
    const full = await raw(base, "/page", BROWSER);
    const tag = full.headers.etag as string;
    const part = await raw(base, "/page", { ...BROWSER, range: "bytes=10-109", "if-range": tag });
    expect(part.status).toBe(206);
    expect(part.headers["content-encoding"]).toBe("br");
    expect(part.headers["content-range"]).toBe(`bytes 10-109/${full.body.length}`);
    expect(part.body.equals(full.body.subarray(10, 110))).toBe(true);
    // An If-Range naming the fast copy's bytes no longer matches: the whole copy comes.
    const stale = await raw(base, "/page", {
      ...BROWSER,
      range: "bytes=10-109",
      "if-range": '"v1-br5"',
    });
    expect(stale.status).toBe(200);
    expect(stale.body.equals(full.body)).toBe(true);
  });

  it("HEAD gives the coding's fields without a body", async () => {
    const { t } = await h.start(serving(page, "text/html"));
    const base = await t.listen();
    const get = await raw(base, "/page", GZIP_ONLY);
    const head = await raw(base, "/page", GZIP_ONLY, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers["content-encoding"]).toBe("gzip");
    expect(head.headers["content-length"]).toBe(String(get.body.length));
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.headers.vary).toBe("Accept-Encoding");
  });

  it("a stale copy revalidates with the origin and is refreshed without encoding again (RFC 9111 §4.3)", async () => {
    const { origin, t } = await h.start(serving(page, "text/html"));
    const base = await t.listen();
    const first = await raw(base, "/page", GZIP_ONLY);
    t.advance(61_000);
    const again = await raw(base, "/page", GZIP_ONLY);
    expect(again.status).toBe(200);
    expect(again.body.equals(first.body)).toBe(true);
    expect(origin.count()).toBe(2);
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"v1"');
    expect(await compressed(t, "gzip", "encoded")).toBe(1);
    expect(await compressed(t, "gzip", "not_modified")).toBe(1);
    const hit = await raw(base, "/page", GZIP_ONLY);
    expect(hit.headers["cache-status"]).toBe("shield; hit; ttl=60");
  });
});

describe("who else can receive it", () => {
  it("a compressed answer with Set-Cookie goes only to the client it was made for, even when two arrive at once", async () => {
    const { origin, t } = await h.start((req, res) => {
      const user = String(req.headers.cookie ?? "none");
      // A slow answer, so that the second request arrives while the first is being made.
      setTimeout(() => {
        res.writeHead(200, {
          "content-type": "text/html",
          "cache-control": "max-age=60",
          "set-cookie": `seen=${user}`,
        });
        res.end(Buffer.concat([Buffer.from(`<p>${user}</p>`), page]));
      }, 50);
    });
    const base = await t.listen();
    const [a, b] = await Promise.all([
      raw(base, "/me", { ...BROWSER, cookie: "user=a" }),
      raw(base, "/me", { ...BROWSER, cookie: "user=b" }),
    ]);
    for (const [res, user] of [
      [a, "a"],
      [b, "b"],
    ] as const) {
      expect(res.headers["content-encoding"]).toBe("br");
      expect(decode(res).toString().startsWith(`<p>user=${user}</p>`)).toBe(true);
      expect(res.headers["set-cookie"]).toEqual([`seen=user=${user}`]);
    }
    const later = await raw(base, "/me", { ...BROWSER, cookie: "user=c" });
    expect(decode(later).toString().startsWith("<p>user=c</p>")).toBe(true);
    expect(origin.count()).toBe(3);
  });

  it("a private response is compressed for its client and never served to another", async () => {
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(200, { "content-type": "text/html", "cache-control": "private, max-age=60" });
      res.end(Buffer.concat([Buffer.from(`<p>${String(req.headers.authorization)}</p>`), page]));
    });
    const base = await t.listen();
    const a = await raw(base, "/account", { ...BROWSER, authorization: "Bearer a" });
    const b = await raw(base, "/account", { ...BROWSER, authorization: "Bearer b" });
    expect(a.headers["content-encoding"]).toBe("br");
    expect(decode(a).toString().startsWith("<p>Bearer a</p>")).toBe(true);
    expect(decode(b).toString().startsWith("<p>Bearer b</p>")).toBe(true);
    expect(b.headers["cache-status"]).not.toMatch(/hit/);
    expect(origin.count()).toBe(2);
  });
});

describe("purge", () => {
  it("purging a URL removes every stored coding of it", async () => {
    const { origin, t } = await h.start(serving(page, "text/html"), {
      shield: { purgeToken: TOKEN },
    });
    const base = await t.listen();
    for (const headers of [BROWSER, GZIP_ONLY, IDENTITY]) await raw(base, "/page", headers);
    await reencoded(t);
    expect(origin.count()).toBe(1);
    expect(t.shield.context.index.keysForUrl("http://example.com/page")).toHaveLength(3);
    const res = await t.request("/__shield/purge", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ urls: ["http://example.com/page"] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { purged: { local: number } }).purged.local).toBe(3);
    expect(t.shield.context.index.keysForUrl("http://example.com/page")).toHaveLength(0);
    // The next request of each coding finds none of the old copies: the first fetches
    // again, and each coding is made anew from that one fetch.
    const br = await raw(base, "/page", BROWSER);
    expect(br.headers["cache-status"]).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(br.headers.etag).toBe('"v1-br5"');
    const gz = await raw(base, "/page", GZIP_ONLY);
    expect(gz.headers["cache-status"]).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(await compressed(t, "gzip", "encoded")).toBe(2);
    for (const res of [br, gz, await raw(base, "/page", IDENTITY)]) {
      expect(decode(res).equals(page)).toBe(true);
    }
    expect(origin.count()).toBe(2);
  });
});

describe("compression.enabled false", () => {
  it("sends every client the body as the origin sent it", async () => {
    const { t } = await h.start(serving(page, "text/html"), { compression: { enabled: false } });
    const base = await t.listen();
    const res = await raw(base, "/page", BROWSER);
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.body.equals(page)).toBe(true);
  });
});

describe("the demo origin behind the shield", () => {
  it("its HTML page and JSON listing come compressed to a browser, one origin fetch each", async () => {
    const { startDemoOrigin } = await import("../../examples/demo-origin.ts");
    const demo = await startDemoOrigin({ port: 0 });
    try {
      const { testShield } = await import("../helpers/shield.ts");
      const t = testShield(demo.url, {}, { realClock: true });
      try {
        const base = await t.listen();
        for (const path of ["/", "/api/catalog"]) {
          const plain = await raw(base, path, IDENTITY);
          for (const headers of [BROWSER, GZIP_ONLY]) {
            const res = await raw(base, path, headers);
            expect(res.headers["content-encoding"]).toBe(headers === BROWSER ? "br" : "gzip");
            expect(decode(res).equals(plain.body)).toBe(true);
            expect(res.body.length).toBeLessThan(plain.body.length / 2);
          }
        }
        const stats = (await (await fetch(`${demo.url}/__origin/stats`)).json()) as {
          paths: Record<string, number>;
        };
        expect(stats.paths["/"]).toBe(1);
        expect(stats.paths["/api/catalog"]).toBe(1);
      } finally {
        await t.close();
      }
    } finally {
      await demo.close();
    }
  });
});

describe("with a disk tier", () => {
  it("a restarted node serves each coding's stored copy from disk, the br one as re-encoded, without asking the origin", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-compress-"));
    const origin = await startOrigin(serving(page, "text/html"));
    const config = { shield: { disk: { dir, maxBytes: 64 * 1024 * 1024 } } };
    try {
      const first = testShield(origin.url, config);
      const base = await first.listen();
      for (const headers of [BROWSER, GZIP_ONLY, IDENTITY]) await raw(base, "/page", headers);
      await reencoded(first);
      await first.close(); // waits for the disk writes to land
      const second = testShield(origin.url, config);
      try {
        const again = await second.listen();
        const br = await raw(again, "/page", BROWSER);
        expect(br.headers["cache-status"]).toMatch(/^shield; hit; ttl=\d+; detail=disk$/);
        expect(br.headers.etag).toBe('"v1-br11"');
        expect(decode(br).equals(page)).toBe(true);
        const gz = await raw(again, "/page", GZIP_ONLY);
        expect(gz.headers["content-encoding"]).toBe("gzip");
        expect(decode(gz).equals(page)).toBe(true);
        expect(origin.count()).toBe(1);
        expect(await compressed(second, "gzip", "encoded")).toBe(0);
      } finally {
        await second.close();
      }
    } finally {
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
