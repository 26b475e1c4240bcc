import { describe, expect, it } from "vitest";
import { compileConfig, parseConfig } from "../../../core/config/index.ts";
import { type Disposition, requestDisposition } from "../../../core/policy/index.ts";

const compiled = compileConfig(
  parseConfig({
    origins: [{ name: "site", url: "http://127.0.0.1:9000", hosts: ["site.example"] }],
    bypassCookies: ["sid", "wordpress_logged_in_*"],
    rules: [
      { name: "admin", match: { path: "/admin/**" }, bypass: true },
      { match: { path: "/private/**", methods: ["GET"] }, bypass: true },
      { match: { path: "/errors/**", status: [500] }, bypass: true },
      { match: { path: "/static/**" }, ttl: { set: 60 } },
    ],
  }),
);

const at = (method: string, path: string, cookie: string | null = null): Disposition =>
  requestDisposition({ method, path, cookie }, compiled);

describe("request disposition: cache, or pass and why (one scheme for both tiers)", () => {
  it("GET and HEAD use the cache", () => {
    expect(at("GET", "/page")).toEqual({ kind: "cache" });
    expect(at("HEAD", "/static/a.css")).toEqual({ kind: "cache" });
  });

  it.each(["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"])(
    "%s passes with fwd=method and no detail",
    (method) => {
      expect(at(method, "/page")).toEqual({ kind: "pass", fwd: "method" });
    },
  );

  it("the method is checked before cookies and rules", () => {
    expect(at("POST", "/admin/x", "sid=1")).toEqual({ kind: "pass", fwd: "method" });
  });

  it.each([
    ["sid=1", true],
    ["theme=dark; sid=abc", true],
    ["wordpress_logged_in_abc=x", true],
    ["sidx=1", false],
    ["theme=dark", false],
    ["", false],
  ])("Cookie %j bypasses: %s", (cookie, bypass) => {
    expect(at("GET", "/page", cookie)).toEqual(
      bypass ? { kind: "pass", fwd: "bypass", detail: "cookie" } : { kind: "cache" },
    );
  });

  it("a bypass cookie is reported before a bypass rule", () => {
    expect(at("GET", "/admin/x", "sid=1")).toEqual({
      kind: "pass",
      fwd: "bypass",
      detail: "cookie",
    });
  });

  it("a rule marking the path bypass gives detail=rule, named or not", () => {
    expect(at("GET", "/admin/users")).toEqual({ kind: "pass", fwd: "bypass", detail: "rule" });
    expect(at("GET", "/private/a")).toEqual({ kind: "pass", fwd: "bypass", detail: "rule" });
    // The rule names GET only: a HEAD is not bypassed by it.
    expect(at("HEAD", "/private/a")).toEqual({ kind: "cache" });
  });

  it("a rule with response-side criteria is not a request bypass", () => {
    expect(at("GET", "/errors/x")).toEqual({ kind: "cache" });
  });

  it("a rule without bypass does not pass", () => {
    expect(at("GET", "/static/a.css")).toEqual({ kind: "cache" });
  });

  it("with no bypass cookies configured a Cookie changes nothing", () => {
    const plain = compileConfig(
      parseConfig({ origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["o.example"] }] }),
    );
    expect(requestDisposition({ method: "GET", path: "/", cookie: "sid=1" }, plain)).toEqual({
      kind: "cache",
    });
  });
});
