/**
 * Unsafe methods are forwarded with their body and then invalidate stored responses
 * (RFC 9111 §4.4).
 */
import { describe, expect, it } from "vitest";
import type { OriginHandler } from "../helpers/origin.ts";
import { fill, harness } from "./support.ts";

const h = harness();

/**
 * GET: a cacheable page naming the request count. Other methods: echo the method, body
 * and content type, answering with the status, Location and Content-Location the
 * request asks for in X-Reply-* fields (forwarded like any other field).
 */
function app(): OriginHandler {
  let gets = 0;
  return (req, res, seen) => {
    const url = new URL(req.url ?? "/", "http://origin");
    if (req.method === "GET") {
      gets++;
      res.writeHead(200, { "cache-control": "max-age=600" });
      res.end(`${url.pathname} #${gets}`);
      return;
    }
    const headers: Record<string, string> = { "content-type": "application/json" };
    const location = req.headers["x-reply-location"];
    if (typeof location === "string") headers.location = location;
    const contentLocation = req.headers["x-reply-content-location"];
    if (typeof contentLocation === "string") headers["content-location"] = contentLocation;
    res.writeHead(Number(req.headers["x-reply-status"] ?? "200"), headers);
    res.end(
      JSON.stringify({
        method: req.method,
        length: seen.body.length,
        body: seen.body.slice(0, 64),
        type: req.headers["content-type"] ?? null,
      }),
    );
  };
}

/** Bodies of /a, /b and of /c on the other host (127.0.0.1), in that order. */
async function pages(t: Awaited<ReturnType<typeof h.start>>["t"]): Promise<string[]> {
  return [
    (await fill(t, "/a")).body,
    (await fill(t, "/b")).body,
    (await fill(t, "/c", { host: "127.0.0.1" })).body,
  ];
}

describe("unsafe methods (RFC 9111 §4.4)", () => {
  it.each(["POST", "PUT", "PATCH", "DELETE"])(
    "%s is forwarded with its body intact and the origin's response relayed",
    async (method) => {
      const { origin, t } = await h.start(app());
      const payload = `name=${"x".repeat(200_000)}&end=1`;
      const res = await t.request("/form", {
        method,
        body: payload,
        headers: { "content-type": "application/x-www-form-urlencoded", "x-reply-status": "201" },
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({
        method,
        length: payload.length,
        body: payload.slice(0, 64),
        type: "application/x-www-form-urlencoded",
      });
      expect(res.headers.get("cache-status")).toBe("shield; fwd=method; fwd-status=201");
      expect(origin.requests[0]?.body).toBe(payload);
    },
  );

  it("a POST through a real socket reaches the origin byte for byte", async () => {
    const { origin, t } = await h.start(app());
    const base = await t.listen();
    const payload = JSON.stringify({ items: Array.from({ length: 5000 }, (_, i) => i) });
    const res = await fetch(`${base}/api`, {
      method: "POST",
      body: payload,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ method: "POST", length: payload.length });
    expect(origin.requests[0]?.body).toBe(payload);
    expect(origin.requests[0]?.headers["content-length"]).toBe(String(payload.length));
  });

  it("after a successful POST the stored GET for that URL and for a same-origin Location are invalidated, not another host's", async () => {
    const { origin, t } = await h.start(app());
    expect(await pages(t)).toEqual(["/a #1", "/b #2", "/c #3"]);
    const post = await t.request("/a", {
      method: "POST",
      body: "x",
      headers: { "x-reply-status": "303", "x-reply-location": "/b" },
    });
    expect(post.status).toBe(303);
    expect(post.headers.get("location")).toBe("/b");
    await post.text();
    // Location naming another origin (RFC 9111 §4.4: only the same origin) changes nothing.
    const cross = await t.request("/x", {
      method: "POST",
      body: "x",
      headers: { "x-reply-location": "http://127.0.0.1/c" },
    });
    await cross.text();
    expect(await pages(t)).toEqual(["/a #4", "/b #5", "/c #3"]);
    expect(origin.requests.filter((r) => r.method === "GET")).toHaveLength(5);
  });

  it("invalidates the target URI, Location and Content-Location of one response", async () => {
    const { t } = await h.start(app());
    for (const path of ["/target", "/loc", "/cloc", "/untouched"]) await fill(t, path);
    const res = await t.request("/target", {
      method: "PUT",
      body: "v",
      headers: {
        "x-reply-status": "200",
        "x-reply-location": "http://example.com/loc",
        "x-reply-content-location": "/cloc",
      },
    });
    await res.text();
    for (const [path, status] of [
      ["/target", /^shield; fwd=uri-miss/],
      ["/loc", /^shield; fwd=uri-miss/],
      ["/cloc", /^shield; fwd=uri-miss/],
      ["/untouched", /^shield; hit/],
    ] as const) {
      expect((await fill(t, path)).res.headers.get("cache-status")).toMatch(status);
    }
  });

  it("a POST to the stored URL itself invalidates it (every variant)", async () => {
    const { origin, t } = await h.start((req, res) => {
      if (req.method === "GET") {
        res.writeHead(200, { "cache-control": "max-age=600", vary: "Accept-Language" });
        res.end(`lang=${req.headers["accept-language"] ?? "-"}`);
      } else {
        res.writeHead(204);
        res.end();
      }
    });
    await fill(t, "/page", { headers: { "accept-language": "en" } });
    await fill(t, "/page", { headers: { "accept-language": "fr" } });
    expect(origin.count()).toBe(2);
    const post = await t.request("/page", { method: "POST", body: "comment" });
    expect(post.status).toBe(204);
    await fill(t, "/page", { headers: { "accept-language": "en" } });
    await fill(t, "/page", { headers: { "accept-language": "fr" } });
    expect(origin.count()).toBe(5);
  });

  it.each([400, 404, 500])("an error response (%i) invalidates nothing", async (status) => {
    const { origin, t } = await h.start(app());
    await fill(t, "/a");
    const res = await t.request("/a", {
      method: "POST",
      body: "",
      headers: { "x-reply-status": String(status), "x-reply-location": "/a" },
    });
    expect(res.status).toBe(status);
    await res.text();
    await fill(t, "/a");
    expect(origin.requests.filter((r) => r.method === "GET")).toHaveLength(1);
  });

  it("safe methods other than GET/HEAD (OPTIONS) are forwarded and invalidate nothing", async () => {
    const { origin, t } = await h.start(app());
    await fill(t, "/a");
    const res = await t.request("/a", { method: "OPTIONS" });
    expect(res.headers.get("cache-status")).toBe("shield; fwd=method; fwd-status=200");
    await res.text();
    const hit = await t.request("/a");
    expect(hit.headers.get("cache-status")).toMatch(/^shield; hit/);
    expect(origin.count()).toBe(2);
  });

  it("the response to a POST is never stored", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "public, max-age=600" });
      res.end("posted");
    });
    for (let i = 0; i < 2; i++) {
      const res = await t.request("/p", { method: "POST", body: "x" });
      expect(await res.text()).toBe("posted");
    }
    await fill(t, "/p");
    expect(origin.count()).toBe(3);
  });
});
