import { describe, expect, it } from "vitest";
import { type CdnConfigInput, parseConfig } from "../../../core/config/index.ts";
import { compileRules, matchRequestRule, matchResponseRule } from "../../../core/rules/index.ts";

/** Rules go through the real schema, as they do at startup. */
function compile(rules: NonNullable<CdnConfigInput["rules"]>) {
  const config = parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }],
    rules,
  });
  return compileRules(config.rules);
}

const RULES = compile([
  /* 0 */ { name: "admin", match: { path: ["/admin/**", "/login"] }, bypass: true },
  /* 1 */ { name: "errors", match: { status: [404, 410] }, ttl: { set: 30 } },
  /* 2 */ { name: "5xx", match: { status: ["5xx"] }, ttl: { cap: 5 } },
  /* 3 */ {
    name: "images",
    match: { path: "/**/*.jpg", contentType: ["image/*"] },
    ttl: { floor: 3600 },
  },
  /* 4 */ { name: "css", match: { contentType: ["text/css"] }, ttl: { floor: 600 } },
  /* 5 */ { name: "post", match: { methods: ["POST", "PUT"] }, bypass: true },
  /* 6 */ { name: "static", match: { path: "/static/**", methods: ["GET"] }, ttl: { set: 86_400 } },
  /* 7 */ { name: "api 200", match: { path: "/api/**", status: [200] }, staleWhileRevalidate: 60 },
  /* 8 */ { name: "catch-all", staleIfError: 300 },
]);

describe("matchRequestRule (before fetching: no response-side rules)", () => {
  const cases: [name: string, method: string, path: string, expected: string | undefined][] = [
    ["a path in a list bypasses", "GET", "/login", "admin"],
    ["a glob in a list bypasses", "GET", "/admin/users/1", "admin"],
    [
      "response-side rules are skipped: a status rule cannot match before the response",
      "GET",
      "/x.jpg",
      "catch-all",
    ],
    ["a method rule matches its method", "POST", "/form", "post"],
    ["a method rule matches its other method", "PUT", "/form", "post"],
    ["methods are exact: get is not GET (RFC 9110 §9.1)", "get", "/static/a.css", "catch-all"],
    ["path and method must both match", "GET", "/static/a.css", "static"],
    ["path matches but method does not", "HEAD", "/static/a.css", "catch-all"],
    ["first match wins: admin before post", "POST", "/admin/x", "admin"],
    [
      "a rule with a status criterion is not used before fetching",
      "GET",
      "/api/items",
      "catch-all",
    ],
  ];
  it.each(cases)("%s", (_name, method, path, expected) => {
    expect(matchRequestRule(RULES, { method, path })?.rule.name).toBe(expected);
  });

  it("no rule: undefined", () => {
    const rules = compile([{ match: { path: "/a" }, bypass: true }]);
    expect(matchRequestRule(rules, { method: "GET", path: "/b" })).toBeUndefined();
  });

  it("returns the rule as configured and its index", () => {
    const m = matchRequestRule(RULES, { method: "GET", path: "/login" });
    expect(m?.index).toBe(0);
    expect(m?.rule).toMatchObject({ bypass: true, match: { path: ["/admin/**", "/login"] } });
  });
});

describe("matchResponseRule (after the response: every criterion)", () => {
  const cases: [
    name: string,
    method: string,
    path: string,
    status: number,
    type: string | null,
    expected: string | undefined,
  ][] = [
    [
      "request-only rules still apply after the response",
      "GET",
      "/admin/x",
      200,
      "text/html",
      "admin",
    ],
    ["an exact status matches", "GET", "/missing", 404, "text/html", "errors"],
    ["another listed status matches", "GET", "/gone", 410, null, "errors"],
    ["a status class matches any status in it", "GET", "/x", 503, "text/html", "5xx"],
    ["a status class matches its lowest status", "GET", "/x", 500, "text/html", "5xx"],
    ["a status class does not match the next class", "GET", "/x", 499, "text/html", "catch-all"],
    ["type/* matches a subtype, path too", "GET", "/a/b.jpg", 200, "image/jpeg", "images"],
    [
      "contentType ignores parameters and case",
      "GET",
      "/site.css",
      200,
      "Text/CSS; charset=UTF-8",
      "css",
    ],
    [
      "contentType tolerates whitespace before parameters",
      "GET",
      "/site.css",
      200,
      "text/css ;charset=utf-8",
      "css",
    ],
    ["type/* does not match another type", "GET", "/a/b.jpg", 200, "text/html", "catch-all"],
    [
      "type/* is not a prefix of a longer type name",
      "GET",
      "/a/b.jpg",
      200,
      "imagex/foo",
      "catch-all",
    ],
    [
      "a missing Content-Type matches no contentType criterion",
      "GET",
      "/site.css",
      200,
      null,
      "catch-all",
    ],
    [
      "an empty Content-Type matches no contentType criterion",
      "GET",
      "/site.css",
      200,
      "",
      "catch-all",
    ],
    ["path and status must both match", "GET", "/api/items", 200, "application/json", "api 200"],
    ["path matches but status does not", "GET", "/api/items", 201, "application/json", "catch-all"],
    [
      "first match wins: status 404 before the css rule",
      "GET",
      "/site.css",
      404,
      "text/css",
      "errors",
    ],
  ];
  it.each(cases)("%s", (_name, method, path, status, contentType, expected) => {
    expect(matchResponseRule(RULES, { method, path, status, contentType })?.rule.name).toBe(
      expected,
    );
  });

  it("no rules: undefined in both phases", () => {
    const none = compileRules([]);
    expect(matchRequestRule(none, { method: "GET", path: "/" })).toBeUndefined();
    expect(
      matchResponseRule(none, { method: "GET", path: "/", status: 200, contentType: "text/html" }),
    ).toBeUndefined();
  });

  it("a match is the same object each time (no allocation per request)", () => {
    const a = matchResponseRule(RULES, {
      method: "GET",
      path: "/x",
      status: 503,
      contentType: null,
    });
    const b = matchResponseRule(RULES, {
      method: "GET",
      path: "/y",
      status: 502,
      contentType: null,
    });
    expect(a).toBe(b);
    expect(a?.index).toBe(2);
  });

  it("rules match the normalised path, so a glob written with unicode matches the encoded path", () => {
    const rules = compile([{ match: { path: "/café/**" }, bypass: true }]);
    expect(matchRequestRule(rules, { method: "GET", path: "/caf%C3%A9/menu" })?.index).toBe(0);
  });
});
