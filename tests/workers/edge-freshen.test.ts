/**
 * The edge freshening its stored entry from the shield's 304 (RFC 9111 §4.3.4), in the
 * real workerd: the 304's fields replace the stored ones except those describing the
 * stored body (§3.2), a 304 for another strong ETag freshens nothing, and a 304 that
 * makes the entry unstorable is served once and dropped. A 200 to a HEAD the edge passes
 * on renews or drops the stored GET (§4.3.5).
 */
import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const BODY = "stored body bytes";

describe("a 304 from the shield renews the edge's stored entry (RFC 9111 §4.3.4)", () => {
  it("takes Test-Header, Content-Foo, Cache-Control and Expires from the 304; body and length stay", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: {
        "cache-control": "max-age=10",
        etag: '"v1"',
        "test-header": "1",
        "content-foo": "1",
        expires: new Date(edge.now() + 10_000).toUTCString(),
      },
      body: BODY,
    });
    await edge.send(path);
    edge.advance(20);
    await scriptAll(path, {
      status: 304,
      headers: {
        "cache-control": "max-age=100",
        etag: '"v1"',
        "test-header": "2",
        "content-foo": "2",
        expires: new Date(edge.now() + 100_000).toUTCString(),
      },
    });
    const revalidated = await edge.send(path);
    const hit = await edge.send(path);
    for (const res of [revalidated, hit]) {
      expect(res.status).toBe(200);
      expect(res.text).toBe(BODY);
      expect(res.headers.get("test-header")).toBe("2");
      expect(res.headers.get("content-foo")).toBe("2");
      expect(res.headers.get("cache-control")).toBe("max-age=100");
      expect(res.headers.get("expires")).toBe(new Date(edge.now() + 100_000).toUTCString());
      expect(res.headers.get("content-length")).toBe(String(BODY.length));
    }
    expect(revalidated.headers.get("cache-status")).toBe("edge; fwd=stale; fwd-status=304; stored");
    expect(hit.headers.get("cache-status")).toBe("edge; hit; ttl=100");
    const logs = await receivedAll(path);
    expect(logs).toHaveLength(2);
    expect(logs[1]?.headers["if-none-match"]).toBe('"v1"');
  });

  it("keeps Content-Length, Content-Encoding, Content-Range and Content-Type of the stored body (RFC 9111 §3.2)", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=10", etag: '"v1"', "content-type": "text/plain" },
      body: BODY,
    });
    await edge.send(path);
    edge.advance(20);
    await scriptAll(path, {
      status: 304,
      headers: {
        "cache-control": "max-age=100",
        etag: '"v1"',
        "content-length": "99999",
        "content-encoding": "gzip",
        "content-range": "bytes 0-1/2",
        "content-type": "text/html",
      },
    });
    for (const res of [await edge.send(path), await edge.send(path)]) {
      expect(res.text).toBe(BODY);
      expect(res.headers.get("content-length")).toBe(String(BODY.length));
      expect(res.headers.get("content-encoding")).toBeNull();
      expect(res.headers.get("content-range")).toBeNull();
      expect(res.headers.get("content-type")).toBe("text/plain");
      expect(res.headers.get("cache-control")).toBe("max-age=100");
    }
  });

  it("does not freshen from a 304 carrying another strong ETag: it fetches in full", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=10", etag: '"v1"' }, body: "v1" });
    await edge.send(path);
    edge.advance(20);
    await scriptAll(
      path,
      { status: 304, headers: { "cache-control": "max-age=100", etag: '"v2"' } },
      { headers: { "cache-control": "max-age=100", etag: '"v2"' }, body: "v2" },
    );
    const res = await edge.send(path);
    expect(res.text).toBe("v2");
    expect(res.headers.get("etag")).toBe('"v2"');
    const logs = await receivedAll(path);
    expect(logs).toHaveLength(3);
    expect(logs[1]?.headers["if-none-match"]).toBe('"v1"');
    // The full fetch carries no validator of the entry the 304 did not select.
    expect(logs[2]?.headers["if-none-match"]).toBeUndefined();
    const hit = await edge.send(path);
    expect(hit.text).toBe("v2");
    expect(hit.headers.get("cache-status")).toBe("edge; hit; ttl=100");
  });

  it("renews in the background within stale-while-revalidate with the 304's fields", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const cc = "max-age=10, stale-while-revalidate=60";
    await scriptAll(path, {
      headers: { "cache-control": cc, etag: '"v1"', "test-header": "1" },
      body: BODY,
    });
    await edge.send(path);
    edge.advance(15);
    await scriptAll(path, {
      status: 304,
      headers: { "cache-control": cc, etag: '"v1"', "test-header": "2" },
    });
    const stale = await edge.send(path);
    expect(stale.headers.get("test-header")).toBe("1");
    const renewed = await edge.send(path);
    expect(renewed.text).toBe(BODY);
    expect(renewed.headers.get("test-header")).toBe("2");
    expect(renewed.headers.get("content-length")).toBe(String(BODY.length));
    expect(renewed.headers.get("cache-status")).toBe("edge; hit; ttl=10");
  });

  it("serves the stored body once and drops the entry when the 304 says no-store", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=10", etag: '"v1"' }, body: "v1" });
    await edge.send(path);
    edge.advance(20);
    await scriptAll(
      path,
      { status: 304, headers: { "cache-control": "no-store", etag: '"v1"' } },
      { headers: { "cache-control": "max-age=100", etag: '"v1"' }, body: "v1 again" },
    );
    const once = await edge.send(path);
    expect(once.text).toBe("v1");
    expect(once.headers.get("cache-control")).toBe("no-store");
    const next = await edge.send(path);
    expect(next.text).toBe("v1 again");
    expect(next.headers.get("cache-status")).toBe("edge; fwd=uri-miss; fwd-status=200; stored");
  });
});

describe("a HEAD passed on to the shield freshens the stored GET (RFC 9111 §4.3.5)", () => {
  // A HEAD with the bypass cookie goes to the shield; the GETs without it are cached.
  const config = () => cdnConfig({ bypassCookies: ["sid"] });
  const head = { method: "HEAD", headers: { cookie: "sid=1" } };
  const stored = {
    headers: { "cache-control": "public, max-age=60", etag: '"v1"', "test-header": "1" },
    body: BODY,
  };

  it("same validators and length: the stored GET takes the HEAD's fields, body kept", async () => {
    const edge = testEdge(config());
    const path = uniquePath();
    await scriptAll(path, stored);
    await edge.send(path);
    await scriptAll(path, {
      headers: {
        "cache-control": "public, max-age=600",
        etag: '"v1"',
        "test-header": "2",
        "content-length": String(BODY.length),
      },
    });
    const res = await edge.send(path, head);
    expect(res.headers.get("cache-status")).toMatch(/^edge; fwd=bypass/);
    const hit = await edge.send(path);
    expect(hit.text).toBe(BODY);
    expect(hit.headers.get("test-header")).toBe("2");
    expect(hit.headers.get("cache-control")).toBe("public, max-age=600");
    expect(hit.headers.get("content-length")).toBe(String(BODY.length));
    expect(hit.headers.get("cache-status")).toBe("edge; hit; ttl=600");
    expect(await receivedAll(path)).toHaveLength(2);
  });

  it.each([
    ["another ETag", { etag: '"v2"', "content-length": String(BODY.length) }],
    ["another Content-Length", { etag: '"v1"', "content-length": "3" }],
    ["no validator at all", { "content-length": String(BODY.length) }],
  ])("%s: the stored GET is dropped and fetched again", async (_, fields) => {
    const edge = testEdge(config());
    const path = uniquePath();
    await scriptAll(path, stored);
    await edge.send(path);
    await scriptAll(path, { headers: { "cache-control": "public, max-age=60", ...fields } });
    await edge.send(path, head);
    await scriptAll(path, {
      headers: { "cache-control": "public, max-age=60", etag: '"v2"' },
      body: "new body",
    });
    const next = await edge.send(path);
    expect(next.text).toBe("new body");
    expect(next.headers.get("cache-status")).toBe("edge; fwd=uri-miss; fwd-status=200; stored");
    expect(await receivedAll(path)).toHaveLength(3);
  });

  it("a personal HEAD answer (Set-Cookie, private) never goes into the shared entry", async () => {
    const edge = testEdge(config());
    const path = uniquePath();
    await scriptAll(path, stored);
    await edge.send(path);
    const personal: Record<string, string>[] = [
      { "set-cookie": "sid=2", "cache-control": "public, max-age=600" },
      { "cache-control": "private, max-age=600" },
    ];
    for (const fields of personal) {
      await scriptAll(path, {
        headers: {
          etag: '"v1"',
          "content-length": String(BODY.length),
          "test-header": "personal",
          ...fields,
        },
      });
      await edge.send(path, head);
      const hit = await edge.send(path);
      expect(hit.text).toBe(BODY);
      expect(hit.headers.get("test-header")).toBe("1");
      expect(hit.headers.get("set-cookie")).toBeNull();
      expect(hit.headers.get("cache-control")).toBe("public, max-age=60");
    }
  });

  it("answers a HEAD on a hit from the stored GET with its Content-Length", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, stored);
    await edge.send(path);
    const res = await edge.send(path, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.bytes.length).toBe(0);
    expect(res.headers.get("content-length")).toBe(String(BODY.length));
    expect(res.headers.get("test-header")).toBe("1");
    expect(res.headers.get("cache-status")).toBe("edge; hit; ttl=60");
    expect(await receivedAll(path)).toHaveLength(1);
  });
});
