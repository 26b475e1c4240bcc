/**
 * What a hostile client can make the shield see. A cacheable GET is answered once and
 * stored for everyone with the same key, so no field the key does not hold may change
 * what the shield (and the origin behind it) answers: the client's own forwarding fields,
 * URL and method overrides and Expect never reach the shield; the edge writes
 * X-Forwarded-For, -Host and -Proto itself from what it checked.
 */
import { describe, expect, it } from "vitest";
import { receivedAll, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const PAGE = { headers: { "cache-control": "max-age=60" }, body: "the page" } as const;

/** The client's address as Cloudflare reports it to the Worker. */
const CLIENT_IP = "203.0.113.7";

/** [field, what a client writes, what the shield must see instead (undefined: nothing)]. */
const HOSTILE: readonly (readonly [string, string, string | undefined])[] = [
  ["x-forwarded-for", "6.6.6.6", CLIENT_IP],
  ["forwarded", "for=6.6.6.6;host=evil.example;proto=http", undefined],
  ["x-forwarded-port", "8443", undefined],
  ["x-forwarded-prefix", "/evil", undefined],
  ["x-forwarded-scheme", "http", undefined],
  ["x-real-ip", "6.6.6.6", undefined],
  ["true-client-ip", "6.6.6.6", undefined],
  ["x-original-url", "/admin", undefined],
  ["x-rewrite-url", "/admin", undefined],
  ["x-host", "evil.example", undefined],
  ["x-http-method-override", "DELETE", undefined],
  ["expect", "100-continue", undefined],
];

describe("a client's forwarding and override fields never reach the shield on a cacheable GET", () => {
  it.each(HOSTILE)("%s", async (field, hostile, atShield) => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    const first = await edge.send(path, {
      headers: { "cf-connecting-ip": CLIENT_IP, [field]: hostile },
    });
    expect(first.text).toBe("the page");
    const logs = await receivedAll(path);
    expect(logs).toHaveLength(1);
    expect(logs[0]!.headers[field]).toBe(atShield);
    // What the shield answered the edge's own request is what the next client gets.
    const next = await edge.send(path);
    expect(next.text).toBe("the page");
    expect(next.headers.get("cache-status")).toMatch(/^edge; hit/);
    expect(await receivedAll(path)).toHaveLength(1);
  });
});

describe("the edge vouches for the client and the host itself", () => {
  it("sends X-Forwarded-For as exactly CF-Connecting-IP, whatever the client claims", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    await edge.send(path, {
      headers: { "cf-connecting-ip": CLIENT_IP, "x-forwarded-for": "6.6.6.6, 7.7.7.7" },
    });
    await edge.send(path, {
      method: "POST",
      body: "order",
      headers: { "cf-connecting-ip": "198.51.100.9", "x-forwarded-for": "6.6.6.6" },
    });
    const [get, post] = await receivedAll(path);
    expect(get!.headers["x-forwarded-for"]).toBe(CLIENT_IP);
    expect(post!.headers["x-forwarded-for"]).toBe("198.51.100.9");
  });

  it("sends no X-Forwarded-For when the runtime gives no client address", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    await edge.send(path, { headers: { "x-forwarded-for": "6.6.6.6" } });
    expect((await receivedAll(path))[0]!.headers["x-forwarded-for"]).toBeUndefined();
  });

  it("sends the normalised host and scheme, not the client's", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    await edge.send(`https://Edge.Test:443${path}`, {
      headers: {
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "http",
        forwarded: "host=evil.example",
      },
    });
    const h = (await receivedAll(path))[0]!.headers;
    expect(h["x-forwarded-host"]).toBe("edge.test");
    expect(h["x-forwarded-proto"]).toBe("https");
    expect(h.forwarded).toBeUndefined();
  });

  it("matches Vary: X-Forwarded-For against the address it vouched for, not a claimed one", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", vary: "X-Forwarded-For" },
      body: "for 198.51.100.1",
    });
    const alice = { "cf-connecting-ip": "198.51.100.1" };
    await edge.send(path, { headers: alice });
    // Alice, asking again, is answered from the copy stored for her.
    const again = await edge.send(path, { headers: alice });
    expect(again.headers.get("cache-status")).toMatch(/^edge; hit/);
    // Mallory claims Alice's address: she must not get the copy made for Alice.
    await scriptAll(path, {
      headers: { "cache-control": "max-age=60", vary: "X-Forwarded-For" },
      body: "for 198.51.100.2",
    });
    const mallory = await edge.send(path, {
      headers: { "cf-connecting-ip": "198.51.100.2", "x-forwarded-for": "198.51.100.1" },
    });
    expect(mallory.text).toBe("for 198.51.100.2");
    const logs = await receivedAll(path);
    expect(logs.map((l) => l.headers["x-forwarded-for"])).toEqual(["198.51.100.1", "198.51.100.2"]);
  });
});
