/**
 * Range requests that miss (RFC 9110 §14): the whole response is fetched once (no Range
 * to the origin), stored, and every waiting client is sent its own part as the bytes
 * arrive; hostile Range values and origins that answer with partial content they were
 * not asked for.
 */
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { sleep } from "../helpers/origin.ts";
import { fill, harness, sequence } from "./support.ts";

const h = harness();
const BODY = "0123456789abcdefghijklmnopqrstuvwxyz"; // 36 bytes
const WHOLE = {
  headers: {
    "cache-control": "max-age=60",
    "content-type": "text/plain",
    etag: '"w1"',
    "content-length": String(BODY.length),
  },
  body: BODY,
};

/** A GET over its own connection: status, fields, body (null when the transfer failed). */
function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string | null }> {
  return new Promise((resolve) => {
    const req = httpRequest(`${base}${path}`, { headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("latin1");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: null }),
      );
      res.on("aborted", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: null }),
      );
    });
    // A connection cut before the head is a failed transfer too.
    req.on("error", () => resolve({ status: 0, headers: {}, body: null }));
    req.end();
  });
}

describe("a range request that misses (RFC 9110 §14.2)", () => {
  it("is answered 206 with its bytes from the one whole fetch, which is stored: the next range is a hit", async () => {
    const { origin, t } = await h.start(sequence(WHOLE));
    const miss = await t.request("/r", { headers: { range: "bytes=4-9" } });
    expect(miss.status).toBe(206);
    expect(miss.headers.get("content-range")).toBe("bytes 4-9/36");
    expect(miss.headers.get("content-length")).toBe("6");
    expect(miss.headers.get("cache-status")).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(await miss.text()).toBe("456789");
    await t.shield.drain();
    expect(origin.requests[0]?.headers.range).toBeUndefined();

    const hit = await t.request("/r", { headers: { range: "bytes=-3" } });
    expect(hit.status).toBe(206);
    expect(await hit.text()).toBe("xyz");
    const whole = await t.request("/r");
    expect(await whole.text()).toBe(BODY);
    expect(whole.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(origin.count()).toBe(1);
  });

  it("a herd of 20 requests for different ranges of one cold object: 1 origin fetch, each gets its own part", async () => {
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26);
    const { origin, t } = await h.start(async (_req, res) => {
      await sleep(100);
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(big.length) });
      res.write(big.subarray(0, 100_000));
      await sleep(20);
      res.end(big.subarray(100_000));
    });
    const base = await t.listen();
    const ranges = Array.from(
      { length: 20 },
      (_, i) => [i * 9_000, i * 9_000 + 1_000 + i] as const,
    );
    const answers = await Promise.all(
      ranges.map(([a, b]) => get(base, "/herd", { range: `bytes=${a}-${b}` })),
    );
    answers.forEach((res, i) => {
      const [a, b] = ranges[i] as readonly [number, number];
      expect(res.status).toBe(206);
      expect(res.headers["content-range"]).toBe(`bytes ${a}-${b}/${big.length}`);
      expect(res.body).toBe(big.subarray(a, b + 1).toString("latin1"));
    });
    expect(
      answers.filter((r) => String(r.headers["cache-status"]).includes("collapsed")).length,
    ).toBeGreaterThan(0);
    expect(origin.count()).toBe(1);
  });

  it("the range is sent as soon as its bytes have arrived, before the origin has sent the rest", async () => {
    // Over 256 KiB: smaller bodies being stored are answered once whole (serve-fill.ts).
    const size = 512 * 1024;
    const head = Buffer.alloc(64 * 1024, "h");
    let finish: (() => void) | undefined;
    const { t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": String(size) });
      res.write(head);
      finish = () => res.end(Buffer.alloc(size - head.length, "t"));
    });
    const base = await t.listen();
    // The origin will not finish until this 206 has been received in full.
    const first = await get(base, "/slow", { range: "bytes=2-5" });
    expect(first.status).toBe(206);
    expect(first.headers["content-range"]).toBe(`bytes 2-5/${size}`);
    expect(first.body).toBe("hhhh");
    finish?.();
    await t.shield.drain();
    const hit = await get(base, "/slow", { range: "bytes=-3" });
    expect(hit.body).toBe("ttt");
    expect(String(hit.headers["cache-status"])).toMatch(/^shield; hit/);
  });

  it("a body without a declared length is sent whole (200); the next range is a 206 hit", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60" }); // chunked
      res.write("0123456789");
      res.end("abcdef");
    });
    const miss = await t.request("/chunked", { headers: { range: "bytes=0-3" } });
    expect(miss.status).toBe(200);
    expect(await miss.text()).toBe("0123456789abcdef");
    await t.shield.drain();
    const hit = await t.request("/chunked", { headers: { range: "bytes=0-3" } });
    expect(hit.status).toBe(206);
    expect(hit.headers.get("content-range")).toBe("bytes 0-3/16");
    expect(await hit.text()).toBe("0123");
    expect(origin.count()).toBe(1);
  });

  it("past the end: 416 with bytes */36 (§15.5.17), and the whole response is still stored", async () => {
    const { origin, t } = await h.start(sequence(WHOLE));
    const miss = await t.request("/r", { headers: { range: "bytes=36-" } });
    expect(miss.status).toBe(416);
    expect(miss.headers.get("content-range")).toBe("bytes */36");
    expect(await miss.text()).toBe("");
    await t.shield.drain();
    const hit = await t.request("/r");
    expect(await hit.text()).toBe(BODY);
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(origin.count()).toBe(1);
  });

  it("an If-Range that does not match the fetched response: the whole 200 (§13.1.5)", async () => {
    const { t } = await h.start(sequence(WHOLE));
    const res = await t.request("/r", { headers: { range: "bytes=0-1", "if-range": '"old"' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(BODY);
  });
});

describe("a range of an object too large to store", () => {
  it("gets its part, and the origin transfer stops once the part has gone (nothing else reads it)", async () => {
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    let cut: Promise<void> = Promise.resolve();
    const { origin, t } = await h.start(
      (_req, res) => {
        res.writeHead(200, {
          "cache-control": "max-age=60",
          "content-length": String(1024 * chunk.length),
        });
        cut = new Promise<void>((resolve) => {
          res.on("close", () => resolve());
          const pump = () => {
            while (sent < 1024 && !res.destroyed) {
              sent++;
              if (!res.write(chunk)) return void res.once("drain", pump);
            }
            res.end();
          };
          pump();
        });
      },
      { shield: { memory: { maxBytes: 8 * 1024 * 1024, maxObjectBytes: 1024 * 1024 } } },
    );
    const base = await t.listen();
    const res = await get(base, "/huge", { range: "bytes=10-19" });
    expect(res.status).toBe(206);
    expect(res.body).toBe("xxxxxxxxxx");
    expect(String(res.headers["cache-status"])).toContain("detail=too-large");
    await cut;
    // 64 MiB were on offer; the shield stopped reading long before.
    expect(sent).toBeLessThan(1024);
    expect(origin.count()).toBe(1);
  });
});

describe("hostile Range values", () => {
  const hostile = [
    ["1,000 overlapping ranges bytes=0-0,0-0,…", `bytes=${Array(1000).fill("0-0").join(",")}`],
    ["a first position of 20 digits", "bytes=99999999999999999999-"],
    ["a last position of 20 digits", "bytes=0-99999999999999999999"],
    ["a negative position", "bytes=-5-10"],
    ["garbage", "bytes=a-b"],
    ["last before first", "bytes=9-2"],
  ] as const;

  it.each(hostile)(
    "%s: the whole 200 on the miss and on the hit, one origin fetch",
    async (_n, range) => {
      const { origin, t } = await h.start(sequence(WHOLE));
      const miss = await t.request("/h", { headers: { range } });
      expect(miss.status).toBe(200);
      expect(await miss.text()).toBe(BODY);
      await t.shield.drain();
      const hit = await t.request("/h", { headers: { range } });
      expect(hit.status).toBe(200);
      expect(await hit.text()).toBe(BODY);
      expect(origin.count()).toBe(1);
    },
  );

  it("a last position past the end with 14 digits is clamped to the end (§14.1.2)", async () => {
    const { t } = await h.start(sequence(WHOLE));
    const res = await t.request("/h", { headers: { range: "bytes=30-99999999999999" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 30-35/36");
    expect(await res.text()).toBe("uvwxyz");
  });
});

describe("an origin that answers 206 to a request without Range (RFC 9110 §15.3.7)", () => {
  it("its partial bytes reach no one as a 200: every client gets 502, nothing is stored", async () => {
    const { origin, t } = await h.start(async (_req, res) => {
      await sleep(30);
      res.writeHead(206, {
        "cache-control": "max-age=60",
        "content-range": "bytes 0-3/36",
        "content-length": "4",
      });
      res.end("0123");
    });
    const base = await t.listen();
    const herd = await Promise.all([get(base, "/p"), get(base, "/p"), get(base, "/p")]);
    for (const res of herd) {
      expect(res.status).toBe(502);
      expect(res.body).not.toContain("0123");
    }
    const later = await get(base, "/p");
    expect(later.status).toBe(502);
    expect(origin.count()).toBeGreaterThanOrEqual(2);
  });

  it("a 206 naming the whole representation (bytes 0-35/36) is the whole response: stored as a 200", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(206, {
        "cache-control": "max-age=60",
        "content-range": "bytes 0-35/36",
        "content-length": "36",
      });
      res.end(BODY);
    });
    const { res: miss, body } = await fill(t, "/all");
    expect(miss.status).toBe(200);
    expect(miss.headers.get("content-range")).toBeNull();
    expect(body).toBe(BODY);
    const hit = await t.request("/all", { headers: { range: "bytes=0-1" } });
    expect(hit.status).toBe(206);
    expect(await hit.text()).toBe("01");
    expect(origin.count()).toBe(1);
  });

  it("a Content-Range that does not match the body's length is never stored", async () => {
    const { origin, t } = await h.start((_req, res) => {
      // Says the whole is 36 bytes, sends 12, chunked.
      res.writeHead(206, { "cache-control": "max-age=60", "content-range": "bytes 0-35/36" });
      res.end("0123456789ab");
    });
    const base = await t.listen();
    const first = await get(base, "/short");
    expect(first.body).toBeNull(); // a cut transfer, never a complete response
    await t.shield.drain();
    const second = await get(base, "/short");
    expect(second.body).toBeNull();
    expect(origin.count()).toBe(2);
  });

  it("a Content-Range and a Content-Length that disagree: 502", async () => {
    const { t } = await h.start((_req, res) => {
      res.writeHead(206, {
        "cache-control": "max-age=60",
        "content-range": "bytes 0-35/36",
        "content-length": "12",
      });
      res.end("0123456789ab");
    });
    const res = await t.request("/mismatch");
    expect(res.status).toBe(502);
  });
});
