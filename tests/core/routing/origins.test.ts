import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../core/config/index.ts";
import {
  compileOrigins,
  hostnameOf,
  originTarget,
  routeOrigin,
} from "../../../core/routing/index.ts";

const { origins } = parseConfig({
  origins: [
    { name: "www", url: "http://10.0.0.1", hosts: ["www.example.com", "example.com"] },
    { name: "www-api", url: "http://10.0.0.2", hosts: ["www.example.com"], pathPrefix: "/api/" },
    { name: "any-sub", url: "http://10.0.0.3", hosts: ["*.example.com"] },
    { name: "deep-sub", url: "http://10.0.0.4", hosts: ["*.eu.example.com"] },
    {
      name: "static",
      url: "http://10.0.0.5/base/",
      hosts: ["cdn.example.com"],
      pathPrefix: "/static/",
    },
    { name: "v6", url: "http://10.0.0.6", hosts: ["[::1]"] },
  ],
});
const router = compileOrigins(origins);

describe("routeOrigin", () => {
  it.each([
    ["www.example.com", "/", "www"],
    ["WWW.Example.COM:8443", "/index.html", "www"],
    ["www.example.com", "/api/orders", "www-api"],
    ["www.example.com", "/apis", "www"],
    ["www.example.com", "/api", "www"],
    ["example.com", "/api/x", "www"],
    ["shop.example.com", "/", "any-sub"],
    ["a.b.example.com", "/", "any-sub"],
    ["x.eu.example.com", "/", "deep-sub"],
    ["www.example.com.", "/", "www"],
    // An exact host with no matching prefix falls to a wildcard that matches.
    ["cdn.example.com", "/static/a.css", "static"],
    ["cdn.example.com", "/other", "any-sub"],
    ["[::1]:8787", "/", "v6"],
  ])("%s%s → %s", (host, path, name) => {
    expect(routeOrigin(router, host, path)?.name).toBe(name);
  });

  it.each([["example.org"], ["notexample.com"], ["eu.example.com.evil.net"], [""]])(
    "serves no origin for %s",
    (host) => {
      expect(routeOrigin(router, host, "/")).toBeNull();
    },
  );

  it("does not let a wildcard match its own apex", () => {
    const only = compileOrigins(
      parseConfig({ origins: [{ name: "w", url: "http://o", hosts: ["*.example.com"] }] }).origins,
    );
    expect(routeOrigin(only, "example.com", "/")).toBeNull();
  });
});

describe("a default origin", () => {
  const withDefault = compileOrigins(
    parseConfig({
      origins: [
        { name: "named", url: "http://a", hosts: ["shop.example"] },
        { name: "api", url: "http://b", hosts: ["*"], pathPrefix: "/api" },
        { name: "default", url: "http://c", hosts: ["*"] },
      ],
    }).origins,
  );

  it.each([
    ["shop.example", "/api/x", "named"],
    ["other.example", "/api/x", "api"],
    ["other.example", "/api", "api"],
    ["other.example", "/apix", "default"],
    ["127.0.0.1:8787", "/", "default"],
  ])("%s%s → %s", (host, path, name) => {
    expect(routeOrigin(withDefault, host, path)?.name).toBe(name);
  });
});

describe("hostnameOf and originTarget", () => {
  it("takes the port off an authority", () => {
    expect(hostnameOf("Shop.Example:8080")).toBe("shop.example");
    expect(hostnameOf("[2001:db8::1]:443")).toBe("[2001:db8::1]");
  });

  it("joins an origin's base URL, path and query", () => {
    expect(originTarget("http://o:9000", "/a", "")).toBe("http://o:9000/a");
    expect(originTarget("http://o/base/", "/a", "x=1")).toBe("http://o/base/a?x=1");
  });
});
