import { describe, expect, it } from "vitest";
import {
  connectionListed,
  connectionTokens,
  invalidatedUrls,
  isHopByHop,
  withoutHopByHop,
} from "../../../core/policy/index.ts";

describe("invalidation after unsafe methods (RFC 9111 §4.4)", () => {
  const target = "https://shop.example/cart?id=1";
  it.each([
    ["a POST with 200 invalidates the target URI", "POST", 200, {}, [target]],
    ["a DELETE with 204 invalidates the target URI", "DELETE", 204, {}, [target]],
    [
      "a PUT with 303 and Location invalidates both",
      "PUT",
      303,
      { location: "/cart" },
      [target, "https://shop.example/cart"],
    ],
    [
      "Content-Location on the same origin is invalidated",
      "PATCH",
      200,
      { "content-location": "https://shop.example/items/1" },
      [target, "https://shop.example/items/1"],
    ],
    [
      "Location on another origin is not invalidated",
      "POST",
      201,
      { location: "https://evil.example/" },
      [target],
    ],
    [
      "another port is another origin",
      "POST",
      201,
      { location: "https://shop.example:8443/x" },
      [target],
    ],
    ["an error response invalidates nothing", "POST", 500, { location: "/cart" }, []],
    ["a 404 invalidates nothing", "DELETE", 404, {}, []],
    ["a safe method invalidates nothing", "GET", 200, {}, []],
    ["OPTIONS is safe", "OPTIONS", 200, {}, []],
    ["an unknown method is unsafe", "PURGE", 200, {}, [target]],
    ["an invalid Location is skipped", "POST", 200, { location: "http://[::1" }, [target]],
  ])("%s", (_, method, status, headers, expected) => {
    expect(invalidatedUrls(method, target, status, new Headers(headers))).toEqual(expected);
  });
});

describe("hop-by-hop fields are neither stored nor forwarded (RFC 9110 §7.6.1)", () => {
  it.each([
    "Connection",
    "Keep-Alive",
    "TE",
    "Transfer-Encoding",
    "Upgrade",
    "Proxy-Connection",
    "Trailer",
    "Proxy-Authorization",
  ])("%s is hop-by-hop", (name) => expect(isHopByHop(name)).toBe(true));

  it.each(["Cache-Control", "Content-Length", "ETag", "Vary"])("%s is end-to-end", (name) => {
    expect(isHopByHop(name)).toBe(false);
  });

  it("fields listed in Connection are removed too", () => {
    const headers = new Headers({
      connection: "Keep-Alive, X-Trace",
      "x-trace": "1",
      "x-keep": "2",
    });
    expect([...connectionListed(headers)].sort()).toEqual(["keep-alive", "x-trace"]);
    expect(withoutHopByHop(headers)).toEqual([["x-keep", "2"]]);
  });

  it.each<[value: string | null, tokens: string[]]>([
    [null, []],
    ["", []],
    ["close", ["close"]],
    ["Keep-Alive, X-Trace", ["keep-alive", "x-trace"]],
    [" , ,close,, Upgrade ", ["close", "upgrade"]],
    ["x-a, x-b, x-a", ["x-a", "x-b", "x-a"]],
  ])("Connection %j lists %j (RFC 9110 §7.6.1)", (value, tokens) => {
    expect(connectionTokens(value)).toEqual(tokens);
  });
});
