import { describe, expect, it } from "vitest";
import { cdnConfig, receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const CACHEABLE = { headers: { "cache-control": "max-age=60" }, body: "shared" } as const;

describe("bypass", () => {
  it("passes other methods through with their body, never storing the answer", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "created" });
    const post = await edge.send(path, { method: "POST", body: "payload" });
    expect(post.text).toBe("created");
    expect(post.headers.get("cache-status")).toBe("edge; fwd=method; fwd-status=200");
    const get = await edge.send(path);
    expect(get.headers.get("cache-status")).toMatch(/^edge; fwd=uri-miss/);
    const logs = await receivedAll(path);
    expect(logs.map((l) => l.method)).toEqual(["POST", "GET"]);
  });

  it("invalidates the stored response after a successful unsafe request (RFC 9111 §4.4)", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, CACHEABLE);
    await edge.send(path);
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(/^edge; hit/);
    await edge.send(path, { method: "PUT", body: "new" });
    expect((await edge.send(path)).headers.get("cache-status")).toMatch(/^edge; fwd=uri-miss/);
  });

  it("does not share a response to a request with Authorization", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "max-age=60" }, body: "alice's" });
    const alice = await edge.send(path, { headers: { authorization: "Bearer alice" } });
    expect(alice.headers.get("cache-status")).toBe(
      "edge; fwd=uri-miss; fwd-status=200; detail=authorization",
    );
    await edge.send(path, { headers: { authorization: "Bearer bob" } });
    await edge.send(path);
    expect(await receivedAll(path)).toHaveLength(3);
  });

  it("does not answer a request with Authorization from a response stored for everyone", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, CACHEABLE);
    await edge.send(path);
    const authed = await edge.send(path, { headers: { authorization: "Bearer alice" } });
    expect(authed.headers.get("cache-status")).toMatch(/^edge; fwd=request/);
  });

  it("shares a response to Authorization when the origin says public or s-maxage", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, { headers: { "cache-control": "public, max-age=60" }, body: "for all" });
    await edge.send(path, { headers: { authorization: "Bearer alice" } });
    const bob = await edge.send(path, { headers: { authorization: "Bearer bob" } });
    expect(bob.headers.get("cache-status")).toMatch(/^edge; hit/);
    const anonymous = await edge.send(path);
    expect(anonymous.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(path)).toHaveLength(1);
  });

  it("bypasses the cache for configured cookies (prefix patterns too)", async () => {
    const edge = testEdge(cdnConfig({ bypassCookies: ["wordpress_logged_in_*", "sid"] }));
    const path = uniquePath();
    await scriptAll(path, CACHEABLE);
    await edge.send(path);
    const loggedIn = await edge.send(path, {
      headers: { cookie: "theme=dark; wordpress_logged_in_abc123=x" },
    });
    expect(loggedIn.headers.get("cache-status")).toBe(
      "edge; fwd=bypass; fwd-status=200; detail=cookie",
    );
    const session = await edge.send(path, { headers: { cookie: "sid=1" } });
    expect(session.headers.get("cache-status")).toMatch(/^edge; fwd=bypass/);
    const other = await edge.send(path, { headers: { cookie: "theme=dark" } });
    expect(other.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(path)).toHaveLength(3);
  });

  it("bypasses the cache for paths a rule marks bypass, with detail=rule (not its name)", async () => {
    const edge = testEdge(
      cdnConfig({ rules: [{ name: "api", match: { path: "/t/*/api/**" }, bypass: true }] }),
    );
    const path = `${uniquePath("api")}/orders`;
    await scriptAll(path, CACHEABLE);
    const res = await edge.send(path, { headers: { "if-none-match": '"x"' } });
    expect(res.headers.get("cache-status")).toBe("edge; fwd=bypass; fwd-status=200; detail=rule");
    await edge.send(path);
    const logs = await receivedAll(path);
    expect(logs).toHaveLength(2);
    expect(logs[0]!.headers["if-none-match"]).toBe('"x"');
  });

  it("does not store a response a status rule marks bypass", async () => {
    const edge = testEdge(cdnConfig({ rules: [{ match: { status: [404] }, bypass: true }] }));
    const path = uniquePath();
    await scriptAll(path, { status: 404, headers: { "cache-control": "max-age=60" } });
    const res = await edge.send(path);
    expect(res.headers.get("cache-status")).toBe(
      "edge; fwd=uri-miss; fwd-status=404; detail=rule-bypass",
    );
  });

  it("honours only-if-cached with a 504 when nothing is stored (RFC 9111 §5.2.1.7)", async () => {
    const edge = testEdge();
    const path = uniquePath();
    const res = await edge.send(path, { headers: { "cache-control": "only-if-cached" } });
    expect(res.status).toBe(504);
    expect(JSON.parse(res.text)).toMatchObject({ error: "only_if_cached" });
    expect(await receivedAll(path)).toHaveLength(0);
  });

  it("ignores a client's no-cache by default, so no client can force origin traffic", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, CACHEABLE);
    await edge.send(path);
    const res = await edge.send(path, {
      headers: { "cache-control": "no-cache", pragma: "no-cache" },
    });
    expect(res.headers.get("cache-status")).toMatch(/^edge; hit/);
    const strict = testEdge(cdnConfig({ cache: { honorRequestNoCache: true } }));
    await strict.send(path);
    const forced = await strict.send(path, { headers: { "cache-control": "no-cache" } });
    expect(forced.headers.get("cache-status")).toMatch(/^edge; fwd=request/);
  });
});
