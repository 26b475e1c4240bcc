/**
 * CloudflarePurger against a fake of Cloudflare's purge API: a real HTTP server on
 * loopback that records every request and answers as each test scripts it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../core/config/index.ts";
import { normaliseUrl } from "../../../core/key/index.ts";
import { coveringPrefixTag, prefixPurgeTag, urlPurgeTag } from "../../../core/purge/index.ts";
import {
  CloudflarePurger,
  type CloudflarePurgerOptions,
  MAX_PURGE_ITEMS_PER_REQUEST,
} from "../../../origin-shield/cluster/cloudflare-purge.ts";
import { variantUrlsFor } from "../../../origin-shield/image/route.ts";
import { negotiateImageVariant } from "../../../workers/request/image-request.ts";

const TOKEN = "cf-secret-token-9f8e7d";
const ZONE = "023e105f4ecef8ad9ca31a8372d0c353";

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: { tags?: string[]; prefixes?: string[]; files?: string[] };
}

interface Answer {
  readonly status?: number;
  /** A JSON value, or raw text. */
  readonly body?: unknown;
  readonly raw?: string;
  /** Hold the answer back this long, ms. */
  readonly delayMs?: number;
}

const SUCCESS = { success: true, errors: [], messages: [], result: { id: "purge-1" } };

let server: Server;
let api: string;
let recorded: Recorded[] = [];
let answers: Answer[] = [];

function answer(res: ServerResponse, next: Answer): void {
  const send = () => {
    if (res.destroyed) return;
    const text = next.raw ?? JSON.stringify(next.body ?? SUCCESS);
    res.writeHead(next.status ?? 200, { "content-type": "application/json" });
    res.end(text);
  };
  if (next.delayMs === undefined) send();
  else setTimeout(send, next.delayMs).unref();
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      recorded.push({
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: text === "" ? {} : JSON.parse(text),
      });
      answer(res, answers.shift() ?? {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  recorded = [];
  answers = [];
});

function purger(options: Partial<CloudflarePurgerOptions> = {}): CloudflarePurger {
  return new CloudflarePurger({ zoneId: ZONE, apiBase: api, token: TOKEN, ...options });
}

const urls = (count: number): string[] =>
  Array.from({ length: count }, (_, at) => `https://shop.example/p/${at}`);

describe("CloudflarePurger: what it sends", () => {
  it("POSTs to /zones/<zone>/purge_cache with the bearer token and JSON", async () => {
    expect(await purger().purge({ tags: ["product-1"] })).toBe("ok");
    expect(recorded).toHaveLength(1);
    const [sent] = recorded;
    expect(sent!.method).toBe("POST");
    expect(sent!.path).toBe(`/client/v4/zones/${ZONE}/purge_cache`);
    expect(sent!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent!.headers["content-type"]).toBe("application/json");
    expect(sent!.body).toEqual({ tags: ["product-1"] });
  });

  it("sends a URL as its URL tag: the tag every variant stored for it carries", async () => {
    const url = "https://shop.example/img/cat.jpg?v=2";
    expect(await purger().purge({ urls: [url] })).toBe("ok");
    expect(recorded.map((r) => r.body)).toEqual([{ tags: [urlPurgeTag(url)] }]);
  });

  it("sends tags as given, once each ignoring case, leaving out those no entry can carry", async () => {
    const tags = ["Sale", "sale", "product:1", "has space", "a,b", "café", "x".repeat(1025)];
    expect(await purger().purge({ tags })).toBe("ok");
    expect(recorded.map((r) => r.body)).toEqual([{ tags: ["Sale", "product:1"] }]);
  });

  it("sends a prefix at a directory boundary as its tag and as a Cloudflare prefix", async () => {
    const prefix = "https://shop.example/products/";
    expect(await purger().purge({ prefixes: [prefix] })).toBe("ok");
    expect(recorded.map((r) => r.body)).toEqual([
      { tags: [prefixPurgeTag(prefix)] },
      { prefixes: ["shop.example/products/"] },
    ]);
  });

  it("widens a prefix that does not end at a directory to the directory that holds it", async () => {
    const prefix = "https://shop.example/products/12?colour=red";
    expect(prefixPurgeTag(prefix)).toBeNull();
    expect(await purger().purge({ prefixes: [prefix] })).toBe("ok");
    expect(recorded.map((r) => r.body)).toEqual([
      { tags: [prefixPurgeTag("https://shop.example/products/")] },
      // Cloudflare's prefix purge takes no query: the path alone, wider again.
      { prefixes: ["shop.example/products/12"] },
    ]);
    expect(coveringPrefixTag(prefix)).toBe(prefixPurgeTag("https://shop.example/products/"));
  });

  it(`batches ${MAX_PURGE_ITEMS_PER_REQUEST} tags or prefixes per request, tags first`, async () => {
    const prefixes = Array.from({ length: 35 }, (_, at) => `https://shop.example/d${at}/`);
    const outcome = await purger().purge({ urls: urls(40), tags: ["t1", "t2"], prefixes });
    expect(outcome).toBe("ok");
    const tagged = recorded.filter((r) => r.body.tags !== undefined);
    const prefixed = recorded.filter((r) => r.body.prefixes !== undefined);
    // 40 URL tags, 2 tags, 35 prefix tags: 77 tags in 30, 30, 17.
    expect(tagged.map((r) => r.body.tags!.length)).toEqual([30, 30, 17]);
    expect(prefixed.map((r) => r.body.prefixes!.length)).toEqual([30, 5]);
    expect(recorded.indexOf(prefixed[0]!)).toBe(3);
    for (const r of recorded) expect(Object.keys(r.body)).toHaveLength(1);
    const allTags = tagged.flatMap((r) => r.body.tags!);
    expect(new Set(allTags).size).toBe(77);
    expect(allTags.slice(0, 3)).toEqual(urls(3).map(urlPurgeTag));
  });

  it("sends nothing for a purge with nothing in it", async () => {
    const cf = purger();
    expect(await cf.purge({})).toBe("ok");
    expect(await cf.purge({ urls: [], tags: ["no spaces allowed"] })).toBe("ok");
    expect(recorded).toHaveLength(0);
    expect(cf.calls).toBe(0);
  });

  it("takes an API base with a trailing slash, and a zone id as one path segment", async () => {
    await purger({ apiBase: `${api}/`, zoneId: "zone/../x" }).purge({ tags: ["a"] });
    expect(recorded[0]!.path).toBe("/client/v4/zones/zone%2F..%2Fx/purge_cache");
  });

  it("uses the fetch it is given", async () => {
    const seen: string[] = [];
    const fake: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(JSON.stringify(SUCCESS), { status: 200 });
    };
    const cf = purger({ apiBase: "https://api.invalid/v4", fetch: fake });
    expect(await cf.purge({ tags: ["a"] })).toBe("ok");
    expect(seen).toEqual([`https://api.invalid/v4/zones/${ZONE}/purge_cache`]);
    expect(recorded).toHaveLength(0);
  });
});

describe("CloudflarePurger: off", () => {
  it.each([
    ["no token", { token: undefined }],
    ["an empty token", { token: "" }],
    ["no zone", { zoneId: "" }],
  ])("is off with %s, and sends nothing", async (_, options) => {
    const cf = purger(options);
    expect(cf.enabled).toBe(false);
    expect(
      await cf.purge({ urls: urls(2), tags: ["a"], prefixes: ["https://shop.example/"] }),
    ).toBe("off");
    expect(recorded).toHaveLength(0);
    expect(cf.calls).toBe(0);
  });

  it("is on with a zone and a token", () => {
    expect(purger().enabled).toBe(true);
  });
});

describe("CloudflarePurger: errors, as short text without the token", () => {
  it.each([
    [
      "success:false in a 200",
      { body: { success: false, errors: [{ code: 1134, message: "Tag purge not allowed" }] } },
      "error: 1134 Tag purge not allowed",
    ],
    [
      "an HTTP error with the API's errors",
      {
        status: 403,
        body: { success: false, errors: [{ code: 10000, message: "Authentication error" }] },
      },
      "error: HTTP 403: 10000 Authentication error",
    ],
    [
      "several errors",
      {
        status: 400,
        body: {
          success: false,
          errors: [
            { code: 1012, message: "bad tag" },
            { code: 1013, message: "too many" },
          ],
        },
      },
      "error: HTTP 400: 1012 bad tag; 1013 too many",
    ],
    [
      "an HTTP error without JSON",
      { status: 502, raw: "<html>Bad gateway</html>" },
      "error: HTTP 502",
    ],
    ["a 200 without JSON", { raw: "ok?" }, "error: unreadable answer (HTTP 200)"],
    [
      "a 200 without success",
      { body: { success: false, errors: [] } },
      "error: the API did not report success",
    ],
    [
      "errors of odd shapes",
      { status: 429, body: { errors: ["x", null, { code: 971 }, { message: { nested: 1 } }] } },
      "error: HTTP 429: 971",
    ],
  ])("maps %s", async (_, scripted: Answer, expected) => {
    answers = [scripted];
    const cf = purger();
    expect(await cf.purge({ tags: ["a"] })).toBe(expected);
    expect(cf.calls).toBe(1);
    expect(cf.failures).toBe(1);
  });

  it("never repeats the token, even when the API echoes it", async () => {
    answers = [
      {
        status: 400,
        body: { success: false, errors: [{ code: 6003, message: `Invalid token ${TOKEN}\n!` }] },
      },
    ];
    const outcome = await purger().purge({ tags: ["a"] });
    expect(outcome).not.toContain(TOKEN);
    expect(outcome).toBe("error: HTTP 400: 6003 Invalid token [token] !");
  });

  it("keeps a long error short", async () => {
    answers = [{ status: 400, body: { errors: [{ code: 1, message: "m".repeat(5000) }] } }];
    const outcome = await purger().purge({ tags: ["a"] });
    expect(outcome.length).toBeLessThanOrEqual(310);
    expect(outcome.startsWith("error: HTTP 400: 1 mmm")).toBe(true);
  });

  it("goes on after a request the API refused for its content, and says how many failed", async () => {
    answers = [{ status: 400, body: { success: false, errors: [{ code: 1, message: "bad" }] } }];
    const cf = purger();
    const outcome = await cf.purge({ urls: urls(70) });
    expect(recorded).toHaveLength(3);
    expect(outcome).toBe("error: HTTP 400: 1 bad (1 of 3 requests failed)");
    expect([cf.calls, cf.failures]).toEqual([3, 1]);
  });

  it("stops when every request would fail the same way (authentication)", async () => {
    answers = [{ status: 403, body: { success: false, errors: [{ code: 10000, message: "no" }] } }];
    const cf = purger();
    const outcome = await cf.purge({ urls: urls(70) });
    expect(recorded).toHaveLength(1);
    expect(outcome).toBe("error: HTTP 403: 10000 no (1 of 3 requests failed, 2 not sent)");
    expect([cf.calls, cf.failures]).toEqual([1, 1]);
  });

  it("gives up on a request the API does not answer in time", async () => {
    answers = [{ delayMs: 5_000 }];
    const cf = purger({ timeoutMs: 150 });
    const started = Date.now();
    expect(await cf.purge({ tags: ["a"] })).toBe("error: no answer within 150 ms");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect([cf.calls, cf.failures]).toEqual([1, 1]);
  });

  it("reports an API it cannot reach, without the token", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const cf = purger({ apiBase: `http://127.0.0.1:${port}/v4` });
    const outcome = await cf.purge({ tags: ["a"] });
    expect(outcome).toMatch(/^error: request failed: /);
    expect(outcome).toContain("ECONNREFUSED");
    expect(outcome).not.toContain(TOKEN);
    expect([cf.calls, cf.failures]).toEqual([1, 1]);
  });

  it("counts calls and failures across purges", async () => {
    const cf = purger();
    await cf.purge({ tags: ["a"] });
    answers = [{ status: 500, raw: "" }];
    await cf.purge({ tags: ["b"] });
    await cf.purge({ urls: urls(31) });
    expect([cf.calls, cf.failures]).toEqual([4, 1]);
  });
});

describe("a transform URL purged at the shield reaches the edge's entry", () => {
  const config = parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["shop.example"] }],
  });

  it.each([
    [
      "one spelling, purged as another",
      "/img/w=960,f=webp/photos/cat.jpg",
      null,
      "/img/format=webp,width=960/photos/cat.jpg",
    ],
    [
      "a dpr spelling, purged by width",
      "/img/format=webp,width=480,dpr=2/photos/cat.jpg",
      null,
      "/img/f=webp,w=960/photos/cat.jpg",
    ],
    [
      "format=auto negotiated to AVIF",
      "/img/width=640,format=auto/photos/cat.jpg",
      "image/avif",
      "/img/f=auto,w=640/photos/cat.jpg",
    ],
    [
      "format=auto, the original",
      "/img/width=640,format=auto/photos/cat.jpg",
      "*/*",
      "/img/w=640,f=auto/photos/cat.jpg",
    ],
    [
      "format=auto, purged as the format it became",
      "/img/width=640,format=auto/photos/cat.jpg",
      "image/webp",
      "/img/width=640,format=webp/photos/cat.jpg",
    ],
  ])("%s", (_, requested, accept, purgedAs) => {
    const url = normaliseUrl(`https://shop.example${requested}`, config.key);
    // What the edge tags its entry with (workers/flow/handle.ts purgeUrls) …
    const image = negotiateImageVariant(url.path, accept, config.images);
    if (image.kind !== "image") throw new Error("not a transform");
    const tagged = new Set(
      [url.path, ...image.purgePaths].map((path) => urlPurgeTag(`https://shop.example${path}`)),
    );
    // … and what the shield purges for another spelling (origin-shield/admin/purge.ts).
    const other = normaliseUrl(`https://shop.example${purgedAs}`, config.key);
    expect(tagged.has(urlPurgeTag(other.url))).toBe(false);
    const purged = variantUrlsFor(config.images, other).map(urlPurgeTag);
    expect(purged.some((tag) => tagged.has(tag))).toBe(true);
    // The source image's purge reaches its variants too, as at the shield.
    expect(tagged.has(urlPurgeTag("https://shop.example/photos/cat.jpg"))).toBe(true);
  });
});
