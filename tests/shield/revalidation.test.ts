/**
 * Age, validation with the origin and client conditionals (RFC 9111 §4.2.3, §4.3).
 */
import { describe, expect, it } from "vitest";
import { CLOCK_START } from "../helpers/shield.ts";
import { fill, harness, httpDate, sequence } from "./support.ts";

const h = harness();
const LAST_MODIFIED = httpDate(CLOCK_START - 86_400_000);

describe("Age on hits (RFC 9111 §4.2.3, §5.1)", () => {
  it.each<{
    name: string;
    headers: Record<string, string>;
    wait: number;
    age: string;
    ttl: number;
  }>([
    { name: "no Age, no Date", headers: {}, wait: 7, age: "7", ttl: 53 },
    { name: "Age: 30 from upstream", headers: { age: "30" }, wait: 5, age: "35", ttl: 25 },
    {
      name: "a Date 10 s in the past",
      headers: { date: httpDate(CLOCK_START - 10_000) },
      wait: 5,
      age: "15",
      ttl: 45,
    },
  ])("counts the resident time on top of the initial age: $name", async (c) => {
    const { origin, t } = await h.start(
      sequence({ headers: { "cache-control": "max-age=60", ...c.headers }, body: "x" }),
    );
    await fill(t, "/a");
    t.advance(c.wait * 1000);
    const hit = await t.request("/a");
    expect(await hit.text()).toBe("x");
    expect(hit.headers.get("age")).toBe(c.age);
    expect(hit.headers.get("cache-status")).toBe(`shield; hit; ttl=${c.ttl}`);
    expect(origin.count()).toBe(1);
  });
});

describe("revalidation with the origin (RFC 9111 §4.3.1, §4.3.3, §4.3.4)", () => {
  it("sends If-None-Match and If-Modified-Since when stale; a 304 merges its headers and renews freshness, keeping the body", async () => {
    const { origin, t } = await h.start(
      sequence(
        {
          headers: {
            "cache-control": "max-age=10",
            etag: '"v1"',
            "last-modified": LAST_MODIFIED,
            "content-type": "text/plain",
            "x-version": "1",
          },
          body: "the body",
        },
        {
          status: 304,
          headers: { "cache-control": "max-age=100", etag: '"v1"', "x-version": "2" },
        },
      ),
    );
    const first = await t.request("/doc");
    expect(await first.text()).toBe("the body");
    t.advance(11_000);

    const revalidated = await t.request("/doc");
    expect(revalidated.status).toBe(200);
    expect(await revalidated.text()).toBe("the body");
    expect(revalidated.headers.get("x-version")).toBe("2");
    expect(revalidated.headers.get("cache-control")).toBe("max-age=100");
    expect(revalidated.headers.get("content-type")).toBe("text/plain");
    expect(revalidated.headers.get("content-length")).toBe("8");
    expect(revalidated.headers.get("cache-status")).toBe(
      "shield; fwd=stale; fwd-status=304; stored",
    );
    expect(origin.count()).toBe(2);
    const conditional = origin.requests[1]?.headers;
    expect(conditional?.["if-none-match"]).toBe('"v1"');
    expect(conditional?.["if-modified-since"]).toBe(LAST_MODIFIED);

    // Fresh again for the 304's max-age=100, counted from the 304.
    t.advance(90_000);
    const hit = await t.request("/doc");
    expect(await hit.text()).toBe("the body");
    expect(hit.headers.get("x-version")).toBe("2");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=10");
    expect(hit.headers.get("age")).toBe("90");
    expect(origin.count()).toBe(2);
  });

  it("sends only If-Modified-Since when the stored response has no ETag", async () => {
    const { origin, t } = await h.start(
      sequence(
        { headers: { "cache-control": "max-age=10", "last-modified": LAST_MODIFIED }, body: "b" },
        { status: 304, headers: { "cache-control": "max-age=10" } },
      ),
    );
    await (await t.request("/lm")).text();
    t.advance(20_000);
    const res = await t.request("/lm");
    expect(await res.text()).toBe("b");
    expect(origin.requests[1]?.headers["if-modified-since"]).toBe(LAST_MODIFIED);
    expect(origin.requests[1]?.headers["if-none-match"]).toBeUndefined();
  });

  it("replaces the stored response when the origin answers the conditional request with 200", async () => {
    const { origin, t } = await h.start(
      sequence(
        { headers: { "cache-control": "max-age=10", etag: '"v1"' }, body: "old" },
        { headers: { "cache-control": "max-age=10", etag: '"v2"' }, body: "new!" },
      ),
    );
    await (await t.request("/r")).text();
    t.advance(11_000);
    const res = await t.request("/r");
    expect(await res.text()).toBe("new!");
    expect(res.headers.get("cache-status")).toBe("shield; fwd=stale; fwd-status=200; stored");
    const hit = await t.request("/r");
    expect(await hit.text()).toBe("new!");
    expect(hit.headers.get("etag")).toBe('"v2"');
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=10");
    expect(origin.count()).toBe(2);
  });

  it("refetches without validators when the 304 names another representation (§4.3.4)", async () => {
    const { origin, t } = await h.start(
      sequence(
        { headers: { "cache-control": "max-age=10", etag: '"v1"' }, body: "one" },
        { status: 304, headers: { "cache-control": "max-age=10", etag: '"other"' } },
        { headers: { "cache-control": "max-age=10", etag: '"v3"' }, body: "three" },
      ),
    );
    await (await t.request("/x")).text();
    t.advance(11_000);
    const res = await t.request("/x");
    expect(await res.text()).toBe("three");
    expect(origin.count()).toBe(3);
    expect(origin.requests[2]?.headers["if-none-match"]).toBeUndefined();
  });
});

describe("client conditionals answered from the cache (RFC 9111 §4.3.2, RFC 9110 §13.2.2)", () => {
  const stored = {
    headers: {
      "cache-control": "max-age=60",
      etag: '"abc"',
      "last-modified": LAST_MODIFIED,
      "content-type": "text/plain",
    },
    body: "hello",
  };
  it.each<{ name: string; headers: Record<string, string>; status: number }>([
    { name: "If-None-Match with the ETag", headers: { "if-none-match": '"abc"' }, status: 304 },
    {
      name: "If-None-Match, weak comparison",
      headers: { "if-none-match": 'W/"abc"' },
      status: 304,
    },
    { name: "If-None-Match in a list", headers: { "if-none-match": '"x", "abc"' }, status: 304 },
    { name: "If-None-Match: *", headers: { "if-none-match": "*" }, status: 304 },
    { name: "If-None-Match, another tag", headers: { "if-none-match": '"zzz"' }, status: 200 },
    {
      name: "If-Modified-Since = Last-Modified",
      headers: { "if-modified-since": LAST_MODIFIED },
      status: 304,
    },
    {
      name: "If-Modified-Since before Last-Modified",
      headers: { "if-modified-since": httpDate(CLOCK_START - 2 * 86_400_000) },
      status: 200,
    },
    {
      name: "If-None-Match wins over If-Modified-Since",
      headers: { "if-none-match": '"zzz"', "if-modified-since": LAST_MODIFIED },
      status: 200,
    },
  ])("$name → $status without asking the origin", async (c) => {
    const { origin, t } = await h.start(sequence(stored));
    await (await t.request("/c")).text();
    t.advance(3_000);
    const res = await t.request("/c", { headers: c.headers });
    expect(res.status).toBe(c.status);
    expect(res.headers.get("cache-status")).toBe("shield; hit; ttl=57");
    expect(res.headers.get("age")).toBe("3");
    if (c.status === 304) {
      expect(await res.text()).toBe("");
      expect(res.headers.get("etag")).toBe('"abc"');
      expect(res.headers.get("cache-control")).toBe("max-age=60");
      expect(res.headers.get("content-type")).toBeNull();
    } else {
      expect(await res.text()).toBe("hello");
    }
    expect(origin.count()).toBe(1);
  });

  it("fills a miss unconditionally and answers the client's conditional from the new response", async () => {
    const { origin, t } = await h.start(sequence(stored));
    const res = await t.request("/c", { headers: { "if-none-match": '"abc"' } });
    expect(res.status).toBe(304);
    expect(res.headers.get("etag")).toBe('"abc"');
    expect(res.headers.get("cache-status")).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(origin.requests[0]?.headers["if-none-match"]).toBeUndefined();
    // The body was stored all the same.
    const full = await t.request("/c");
    expect(await full.text()).toBe("hello");
    expect(origin.count()).toBe(1);
  });

  it("answers a client conditional after a 304 revalidation from the refreshed entry", async () => {
    const { origin, t } = await h.start(
      sequence(
        { headers: { "cache-control": "max-age=10", etag: '"abc"' }, body: "hello" },
        { status: 304, headers: { "cache-control": "max-age=10", etag: '"abc"' } },
      ),
    );
    await (await t.request("/c")).text();
    t.advance(11_000);
    const res = await t.request("/c", { headers: { "if-none-match": '"abc"' } });
    expect(res.status).toBe(304);
    expect(res.headers.get("cache-status")).toBe("shield; fwd=stale; fwd-status=304; stored");
    // Our own validator went to the origin, not just the client's.
    expect(origin.requests[1]?.headers["if-none-match"]).toBe('"abc"');
  });
});
