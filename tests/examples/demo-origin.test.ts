import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigJson } from "../../core/config/index.ts";
import { type DemoOrigin, pickImageFormat, startDemoOrigin } from "../../examples/demo-origin.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

let origin: DemoOrigin;

beforeAll(async () => {
  origin = await startDemoOrigin({ port: 0 });
});
afterAll(async () => {
  await origin?.close();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${origin.url}${path}`, { headers });

async function stats(): Promise<{
  total: number;
  notModified: number;
  paths: Record<string, number>;
}> {
  return (await (await get("/__origin/stats")).json()) as never;
}

/** A raw request, for targets fetch() would normalise away. */
function rawStatus(target: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = httpRequest(`${origin.url}/`, { path: target }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on("error", fail);
    req.end();
  });
}

describe("demo origin", () => {
  it("listens on the port it was given, 0 meaning any free one", () => {
    expect(origin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(origin.port).toBeGreaterThan(0);
    expect(origin.url).toBe(`http://127.0.0.1:${origin.port}`);
  });

  it("serves the HTML page with a validator and answers If-None-Match with 304", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=60, stale-while-revalidate=30");
    const html = await res.text();
    expect(html).toContain('<img src="/images/hero.jpg"');
    expect(html).toContain('href="/api/time"');
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^"[^"]+"$/);

    const again = await get("/", { "if-none-match": `"other", ${etag}` });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect(again.headers.get("cache-control")).toBe(res.headers.get("cache-control"));
    expect(await again.text()).toBe("");

    const since = await get("/", { "if-modified-since": res.headers.get("last-modified")! });
    expect(since.status).toBe(304);
  });

  it("/api/time is briefly cacheable, longer for CDNs, with stale windows and validators", async () => {
    const res = await get("/api/time");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe(
      "public, max-age=5, stale-while-revalidate=10, stale-if-error=60",
    );
    expect(res.headers.get("cdn-cache-control")).toBe("max-age=10");
    expect(res.headers.get("etag")).toMatch(/^"[^"]+"$/);
    expect(Date.parse(res.headers.get("last-modified")!)).not.toBeNaN();
    const body = (await res.json()) as { now: string; served: number };
    expect(Date.parse(body.now)).not.toBeNaN();
    expect(body.served).toBeGreaterThanOrEqual(1);
  });

  it("/api/user is private, sets a cookie, and never carries a shared-cache directive", async () => {
    const a = await get("/api/user");
    const b = await get("/api/user");
    for (const res of [a, b]) {
      expect(res.status).toBe(200);
      const cc = res.headers.get("cache-control")!;
      expect(cc).toBe("private, no-store");
      expect(cc).not.toMatch(/public|s-maxage|max-age/);
      expect(res.headers.get("cdn-cache-control")).toBeNull();
      expect(res.headers.get("set-cookie")).toMatch(/^demo_session=[0-9a-f]+; Path=\/; HttpOnly/);
    }
    const [ua, ub] = (await Promise.all([a.json(), b.json()])) as { session: string }[];
    expect(ua!.session).not.toBe(ub!.session);
  });

  it("/api/tagged carries purge tags", async () => {
    const res = await get("/api/tagged");
    expect(res.status).toBe(200);
    expect(res.headers.get("surrogate-key")).toBe("demo api");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
  });

  describe("images", () => {
    const cases = [
      {
        accept: "image/avif,image/webp,image/apng,image/*,*/*;q=0.8",
        type: "avif",
        format: "heif",
      },
      { accept: "image/webp,*/*", type: "webp", format: "webp" },
      { accept: "image/avif;q=0.5, image/webp", type: "webp", format: "webp" },
      { accept: "image/avif;q=0, image/webp;q=0", type: "jpeg", format: "jpeg" },
      { accept: "image/*,*/*;q=0.8", type: "jpeg", format: "jpeg" },
      { accept: undefined, type: "jpeg", format: "jpeg" },
    ] as const;

    for (const c of cases) {
      it(`Accept: ${c.accept ?? "(none)"} → ${c.type}`, async () => {
        const res = await get(
          "/images/hero.jpg",
          c.accept === undefined ? {} : { accept: c.accept },
        );
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe(`image/${c.type}`);
        expect(res.headers.get("vary")).toBe("Accept");
        expect(res.headers.get("cache-control")).toBe("public, max-age=86400");
        expect(res.headers.get("last-modified")).not.toBeNull();
        const buf = Buffer.from(await res.arrayBuffer());
        expect(Number(res.headers.get("content-length"))).toBe(buf.length);
        // Real bytes of that format, not just a label (sharp reports AVIF as "heif").
        const meta = await sharp(buf).metadata();
        expect(meta.format).toBe(c.format);
        if (c.type === "avif") expect(meta.compression).toBe("av1");
        expect([meta.width, meta.height]).toEqual([1200, 630]);
      });
    }

    it("a PNG original stays PNG for clients that name no modern format", async () => {
      const res = await get("/images/logo.png", { accept: "*/*" });
      expect(res.headers.get("content-type")).toBe("image/png");
      expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).format).toBe("png");
    });

    it("each variant has its own strong ETag, and 304 only for its own", async () => {
      const tags = await Promise.all(
        ["image/avif", "image/webp", "*/*"].map(async (accept) => {
          const res = await get("/images/card.jpg", { accept });
          await res.arrayBuffer();
          return res.headers.get("etag")!;
        }),
      );
      for (const t of tags) expect(t).toMatch(/^"[^"]+"$/); // strong: no W/
      expect(new Set(tags).size).toBe(3);
      const [avif, webp] = tags;

      const hit = await get("/images/card.jpg", { accept: "image/avif", "if-none-match": avif! });
      expect(hit.status).toBe(304);
      expect(hit.headers.get("vary")).toBe("Accept");
      expect(hit.headers.get("etag")).toBe(avif);

      const miss = await get("/images/card.jpg", { accept: "image/webp", "if-none-match": avif! });
      expect(miss.status).toBe(200);
      expect(miss.headers.get("etag")).toBe(webp);
      await miss.arrayBuffer();
    });

    it("answers HEAD with the headers and no body", async () => {
      const res = await fetch(`${origin.url}/images/hero.jpg`, {
        method: "HEAD",
        headers: { accept: "image/webp" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/webp");
      expect(Number(res.headers.get("content-length"))).toBeGreaterThan(0);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    });

    it("pickImageFormat follows the CDN's rule: explicit types only, higher q, AVIF on a tie", () => {
      expect(pickImageFormat("image/webp;q=0.9, image/avif;q=0.9")).toBe("avif");
      expect(pickImageFormat("image/webp, image/avif;q=0.9")).toBe("webp");
      expect(pickImageFormat("*/*")).toBe("original");
      expect(pickImageFormat("garbage;;;,")).toBe("original");
    });
  });

  it("/slow waits the given time, within bounds, and is cacheable", async () => {
    const t0 = performance.now();
    const res = await get("/slow?ms=150");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    expect(await res.json()).toMatchObject({ delayedMs: 150 });

    for (const bad of ["10001", "99999999999999999999", "-1", "1e3", "abc", ""]) {
      const r = await get(`/slow?ms=${bad}`);
      expect(r.status, `ms=${bad}`).toBe(400);
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(await r.json()).toMatchObject({ error: "bad_ms" });
    }
  });

  it("unknown paths get a short cacheable 404; odd targets and methods a 4xx, never a crash", async () => {
    const res = await get("/no/such/page");
    expect(res.status).toBe(404);
    expect(res.headers.get("cache-control")).toBe("public, max-age=10");
    expect(await res.text()).toBe("404 Not Found\n");

    expect((await get("/images/nope.jpg")).status).toBe(404);
    expect(await rawStatus("//evil.example/x")).toBe(400);
    expect(await rawStatus("/images/%2e%2e/secret")).toBe(404);
    expect(await rawStatus(`/${"a".repeat(8000)}`)).toBe(404);
    const post = await fetch(`${origin.url}/`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    // Still serving after all of that.
    expect((await get("/")).status).toBe(200);
  });

  it("counts the requests that reach it, per path, and can be reset", async () => {
    const before = await stats();
    await (await get("/api/tagged")).arrayBuffer();
    await (await get("/api/tagged")).arrayBuffer();
    const etag = (await get("/")).headers.get("etag")!;
    await get("/", { "if-none-match": etag });
    const after = await stats();
    expect(after.paths["/api/tagged"]).toBe((before.paths["/api/tagged"] ?? 0) + 2);
    expect(after.paths["/"]).toBe((before.paths["/"] ?? 0) + 2);
    expect(after.notModified).toBe(before.notModified + 1);
    expect(after.total).toBe(before.total + 4);
    // Reading the counters does not count.
    expect((await stats()).total).toBe(after.total);

    const served = ((await (await get("/api/time")).json()) as { served: number }).served;
    expect(served).toBe((after.paths["/api/time"] ?? 0) + 1);

    expect((await fetch(`${origin.url}/__origin/stats`, { method: "DELETE" })).status).toBe(204);
    expect(await stats()).toMatchObject({ total: 0, notModified: 0, paths: {} });
  });

  it("a second server on another port works alongside (images are rendered once)", async () => {
    const t0 = performance.now();
    const other = await startDemoOrigin({ port: 0 });
    try {
      expect(performance.now() - t0).toBeLessThan(500);
      expect(other.url).not.toBe(origin.url);
      expect((await fetch(`${other.url}/`)).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe("demo origin, JPEG-only mode", () => {
  it("serves each image's JPEG or PNG original whatever Accept names, without Vary, and says so on its page", async () => {
    const only = await startDemoOrigin({ port: 0, jpegOnly: true });
    try {
      const accept = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
      for (const [path, type, format] of [
        ["/images/hero.jpg", "image/jpeg", "jpeg"],
        ["/images/logo.png", "image/png", "png"],
      ] as const) {
        const res = await fetch(`${only.url}${path}`, { headers: { accept } });
        expect(res.headers.get("content-type")).toBe(type);
        expect(res.headers.get("vary")).toBeNull();
        expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).format).toBe(format);
      }
      expect(await (await fetch(`${only.url}/`)).text()).toContain("JPEG and PNG only");
    } finally {
      await only.close();
    }
  });
});

describe("examples/shield.config.json", () => {
  it("is valid for the shared schema and points at the demo origin", () => {
    const config = parseConfigJson(
      readFileSync(resolve(root, "examples/shield.config.json"), "utf8"),
    );
    expect(config.origins).toMatchObject([
      {
        name: "demo",
        url: "http://127.0.0.1:9000",
        servers: [{ url: "http://127.0.0.1:9000", weight: 1 }],
        hosts: ["127.0.0.1", "localhost"],
        pathPrefix: "/",
      },
    ]);
    expect(config.origins).toHaveLength(1);
    expect(config.rules.length).toBeGreaterThan(0);
  });
});
