import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CdnConfigInput,
  CdnConfigSchema,
  ConfigError,
  DEFAULT_TRACKING_PARAMS,
  parseConfig,
  parseConfigJson,
} from "../../../core/config/index.ts";

const ORIGIN = { name: "main", url: "https://origin.example.com", hosts: ["www.example.com"] };
const MINIMAL: CdnConfigInput = { origins: [ORIGIN] };

/** A minimal valid config with `patch` merged in at the top level. */
function withConfig(patch: Record<string, unknown>): Record<string, unknown> {
  return { origins: [ORIGIN], ...patch };
}

function configError(input: unknown, source?: string): ConfigError {
  try {
    parseConfig(input, source);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(input)}`);
}

/** Read a dotted path such as `key.query.sort` out of the parsed config. */
function at(value: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], value);
}

describe("defaults: a minimal config gets every documented default", () => {
  const parsed = parseConfig(MINIMAL);
  const defaults: [path: string, expected: unknown][] = [
    ["origins.0.pathPrefix", "/"],
    ["cache.honorRequestNoCache", false],
    ["cache.heuristicFraction", 0.1],
    ["cache.maxHeuristicTtl", 86_400],
    ["cache.defaultStaleWhileRevalidate", 0],
    ["cache.defaultStaleIfError", 0],
    ["cache.targetedCacheControl", ["CDN-Cache-Control"]],
    ["rules", []],
    ["key.scheme", true],
    ["key.host", true],
    ["key.query.mode", "all"],
    ["key.query.params", []],
    ["key.query.dropTracking", true],
    ["key.query.trackingParams", [...DEFAULT_TRACKING_PARAMS]],
    ["key.query.sort", true],
    ["key.headers", []],
    ["key.cookies", []],
    ["images.paths", ["/**/*.jpg", "/**/*.jpeg", "/**/*.png"]],
    ["images.formats", ["avif", "webp"]],
    [
      "images.widths",
      [
        16, 32, 48, 64, 80, 96, 112, 128, 160, 200, 240, 300, 360, 420, 480, 540, 640, 720, 800,
        960, 1080, 1280, 1440, 1600, 1920, 2048, 2560, 3200, 3840,
      ],
    ],
    ["images.dprs", [1, 1.5, 2, 3]],
    ["images.transformPrefix", "/img/"],
    ["bypassCookies", []],
  ];
  it.each(defaults)("%s defaults to %j", (path, expected) => {
    expect(at(parsed, path)).toEqual(expected);
  });

  it("a section given partially keeps the defaults of its other fields", () => {
    const c = parseConfig(
      withConfig({ key: { query: { sort: false } }, cache: { maxHeuristicTtl: 60 } }),
    );
    expect(c.key.query).toMatchObject({ sort: false, mode: "all", dropTracking: true });
    expect(c.key.scheme).toBe(true);
    expect(c.cache).toMatchObject({ maxHeuristicTtl: 60, heuristicFraction: 0.1 });
  });

  it("the default tracking list covers the common click ids and utm_*", () => {
    for (const p of [
      "utm_*",
      "fbclid",
      "gclid",
      "dclid",
      "msclkid",
      "mc_cid",
      "mc_eid",
      "_ga",
      "_gl",
    ]) {
      expect(DEFAULT_TRACKING_PARAMS).toContain(p);
    }
    for (const p of ["yclid", "igshid", "twclid", "ttclid", "li_fat_id"])
      expect(DEFAULT_TRACKING_PARAMS).toContain(p);
  });

  it("parsing does not mutate the default arrays shared between configs", () => {
    const a = parseConfig(MINIMAL);
    a.key.query.trackingParams.push("mine");
    a.images.widths.push(9999);
    const b = parseConfig(MINIMAL);
    expect(b.key.query.trackingParams).not.toContain("mine");
    expect(b.images.widths).not.toContain(9999);
  });
});

describe("valid values are accepted and normalised", () => {
  it('a lone "*" host is a default origin for every host nobody else names', () => {
    const config = parseConfig({
      origins: [{ name: "default", url: "http://127.0.0.1:9000", hosts: ["*"] }],
    });
    expect(config.origins[0]?.hosts).toEqual(["*"]);
  });

  it("a full config parses with every section set", () => {
    const input: CdnConfigInput = {
      origins: [
        {
          name: "www",
          url: "https://origin.example.com/base",
          hosts: ["www.example.com", "*.cdn.example.com"],
          pathPrefix: "/",
        },
        {
          name: "api",
          url: "http://127.0.0.1:9000",
          hosts: ["www.example.com"],
          pathPrefix: "/api/",
        },
      ],
      cache: {
        honorRequestNoCache: true,
        heuristicFraction: 0.2,
        maxHeuristicTtl: 3600,
        defaultStaleWhileRevalidate: 30,
        defaultStaleIfError: 600,
        targetedCacheControl: ["Acme-CDN-Cache-Control", "CDN-Cache-Control"],
      },
      rules: [
        { name: "no admin", match: { path: ["/admin/**", "/login"] }, bypass: true },
        { match: { methods: ["GET", "HEAD"], status: [404, "5xx"] }, ttl: { set: 10 } },
        {
          match: { contentType: ["image/*", "text/css"] },
          ttl: { floor: 60, cap: 86_400 },
          staleIfError: 300,
        },
        { staleWhileRevalidate: 30 },
      ],
      key: {
        scheme: false,
        host: false,
        query: { mode: "deny", params: ["session*", "debug"], dropTracking: false, sort: false },
        headers: ["x-device"],
        cookies: ["lang"],
      },
      images: {
        paths: ["/media/**"],
        formats: ["webp"],
        widths: [100, 200],
        dprs: [1, 2],
        transformPrefix: "/_img/",
      },
      bypassCookies: ["session"],
    };
    const c = parseConfig(input);
    expect(c.origins[1]?.pathPrefix).toBe("/api/");
    expect(c.rules[1]?.match.status).toEqual([404, "5xx"]);
    expect(c.rules[3]?.match).toEqual({});
    expect(c.key.query.mode).toBe("deny");
    expect(c.images.formats).toEqual(["webp"]);
  });

  const normalised: [
    name: string,
    patch: Record<string, unknown>,
    path: string,
    expected: unknown,
  ][] = [
    [
      "hosts are lowercased (hostnames are case-insensitive, RFC 4343)",
      { origins: [{ ...ORIGIN, hosts: ["WWW.Example.COM", "*.Example.com"] }] },
      "origins.0.hosts",
      ["www.example.com", "*.example.com"],
    ],
    [
      "IPv4 and bracketed IPv6 hosts are accepted",
      { origins: [{ ...ORIGIN, hosts: ["127.0.0.1", "[::1]", "localhost"] }] },
      "origins.0.hosts",
      ["127.0.0.1", "[::1]", "localhost"],
    ],
    [
      "key header names are lowercased",
      { key: { headers: ["X-Device", "Accept-Language"] } },
      "key.headers",
      ["x-device", "accept-language"],
    ],
    [
      "rule content types are lowercased",
      { rules: [{ match: { contentType: ["Text/HTML"] }, ttl: { set: 1 } }] },
      "rules.0.match.contentType",
      ["text/html"],
    ],
    [
      "a single path glob stays a string",
      { rules: [{ match: { path: "/a/*" }, bypass: true }] },
      "rules.0.match.path",
      "/a/*",
    ],
    [
      "a rule without match matches everything",
      { rules: [{ ttl: { cap: 60 } }] },
      "rules.0.match",
      {},
    ],
    [
      "ttl 2^31 seconds is the maximum (RFC 9111 §1.2.2)",
      { rules: [{ ttl: { set: 2_147_483_648 } }] },
      "rules.0.ttl.set",
      2_147_483_648,
    ],
    [
      "heuristicFraction may be 0",
      { cache: { heuristicFraction: 0 } },
      "cache.heuristicFraction",
      0,
    ],
    [
      "heuristicFraction may be 1",
      { cache: { heuristicFraction: 1 } },
      "cache.heuristicFraction",
      1,
    ],
    ["formats may be empty (negotiation off)", { images: { formats: [] } }, "images.formats", []],
    [
      "floor equal to cap is allowed",
      { rules: [{ ttl: { floor: 5, cap: 5 } }] },
      "rules.0.ttl",
      { floor: 5, cap: 5 },
    ],
    [
      "allow mode with a param that is not a tracking param",
      { key: { query: { mode: "allow", params: ["page", "q"] } } },
      "key.query.params",
      ["page", "q"],
    ],
    [
      "allow mode may list a tracking param when dropTracking is off",
      { key: { query: { mode: "allow", params: ["utm_source"], dropTracking: false } } },
      "key.query.params",
      ["utm_source"],
    ],
    [
      "the same host may go to two origins under different prefixes",
      { origins: [ORIGIN, { ...ORIGIN, name: "api", pathPrefix: "/api/" }] },
      "origins.1.pathPrefix",
      "/api/",
    ],
  ];
  it.each(normalised)("%s", (_name, patch, path, expected) => {
    expect(at(parseConfig(withConfig(patch)), path)).toEqual(expected);
  });
});

describe("a bad field fails with its path in the message", () => {
  const origin = (o: Record<string, unknown>) => ({ origins: [{ ...ORIGIN, ...o }] });
  const rule = (r: Record<string, unknown>) => ({
    rules: [{ ttl: { set: 1 } }, { ttl: { set: 1 } }, r],
  });
  const cases: [name: string, patch: Record<string, unknown>, path: string, message: string][] = [
    // origins
    ["origins must not be empty", { origins: [] }, "origins", "at least one origin"],
    ["origins is required", { origins: undefined }, "origins", ""],
    ["origin name must not be empty", origin({ name: "" }), "origins[0].name", "must not be empty"],
    [
      "origin names are unique",
      { origins: [ORIGIN, { ...ORIGIN, hosts: ["b.example"] }] },
      "origins[1].name",
      "duplicate name",
    ],
    ["origin url must parse", origin({ url: "not a url" }), "origins[0].url", "absolute http"],
    [
      "origin url must be http(s)",
      origin({ url: "ftp://files.example.com" }),
      "origins[0].url",
      "http or https",
    ],
    [
      "origin url has no query",
      origin({ url: "https://o.example.com/?a=1" }),
      "origins[0].url",
      "query or fragment",
    ],
    [
      "origin url has no empty query either",
      origin({ url: "https://o.example.com/?" }),
      "origins[0].url",
      "query or fragment",
    ],
    [
      "origin url has no fragment",
      origin({ url: "https://o.example.com/#x" }),
      "origins[0].url",
      "query or fragment",
    ],
    [
      "origin url has no credentials",
      origin({ url: "https://user:pw@o.example.com/" }),
      "origins[0].url",
      "credentials",
    ],
    [
      "origin hosts must not be empty",
      origin({ hosts: [] }),
      "origins[0].hosts",
      "at least one host",
    ],
    [
      "origin host is a hostname",
      origin({ hosts: ["www.example.com", "not a host"] }),
      "origins[0].hosts[1]",
      "hostname",
    ],
    [
      "origin host has no port",
      origin({ hosts: ["example.com:8080"] }),
      "origins[0].hosts[0]",
      "port",
    ],
    [
      "origin host has no scheme",
      origin({ hosts: ["https://example.com"] }),
      "origins[0].hosts[0]",
      "hostname",
    ],
    [
      "wildcard only as a leading label",
      origin({ hosts: ["www.*.example.com"] }),
      "origins[0].hosts[0]",
      "hostname",
    ],
    [
      "a wildcard without a domain is not a host",
      origin({ hosts: ["*."] }),
      "origins[0].hosts[0]",
      "hostname",
    ],
    [
      "a wildcard in the middle is not a host",
      origin({ hosts: ["a.*.com"] }),
      "origins[0].hosts[0]",
      "hostname",
    ],
    [
      "pathPrefix starts with /",
      origin({ pathPrefix: "api" }),
      "origins[0].pathPrefix",
      'start with "/"',
    ],
    [
      "one host+prefix cannot go to two origins",
      { origins: [ORIGIN, { ...ORIGIN, name: "b", hosts: ["WWW.example.com"] }] },
      "origins[1].hosts[0]",
      "already served by origins[0]",
    ],
    ["unknown origin key (typo)", origin({ host: ["x"] }), "origins[0].host", "unknown key"],
    // cache
    [
      "honorRequestNoCache is a boolean",
      { cache: { honorRequestNoCache: "yes" } },
      "cache.honorRequestNoCache",
      "boolean",
    ],
    [
      "heuristicFraction ≤ 1",
      { cache: { heuristicFraction: 1.5 } },
      "cache.heuristicFraction",
      "between 0 and 1",
    ],
    [
      "heuristicFraction ≥ 0",
      { cache: { heuristicFraction: -0.1 } },
      "cache.heuristicFraction",
      "between 0 and 1",
    ],
    [
      "maxHeuristicTtl is whole seconds",
      { cache: { maxHeuristicTtl: 1.5 } },
      "cache.maxHeuristicTtl",
      "whole number",
    ],
    ["maxHeuristicTtl ≥ 0", { cache: { maxHeuristicTtl: -1 } }, "cache.maxHeuristicTtl", "≥ 0"],
    [
      "defaultStaleWhileRevalidate ≥ 0",
      { cache: { defaultStaleWhileRevalidate: -5 } },
      "cache.defaultStaleWhileRevalidate",
      "≥ 0",
    ],
    [
      "defaultStaleIfError ≤ 2^31 (RFC 9111 §1.2.2)",
      { cache: { defaultStaleIfError: 2 ** 31 + 1 } },
      "cache.defaultStaleIfError",
      "2147483648",
    ],
    [
      "targetedCacheControl entries are header names",
      { cache: { targetedCacheControl: ["CDN Cache Control"] } },
      "cache.targetedCacheControl[0]",
      "header name",
    ],
    [
      "targetedCacheControl has no duplicates (case-insensitive)",
      { cache: { targetedCacheControl: ["CDN-Cache-Control", "cdn-cache-control"] } },
      "cache.targetedCacheControl[1]",
      "duplicate",
    ],
    [
      "unknown cache key (typo)",
      { cache: { maxHeuristicTTL: 5 } },
      "cache.maxHeuristicTTL",
      "unknown key",
    ],
    // rules
    ["rules is an array", { rules: {} }, "rules", "array"],
    ["floor ≤ cap", rule({ ttl: { floor: 10, cap: 5 } }), "rules[2].ttl.floor", "must be ≤ cap"],
    [
      "set excludes floor",
      rule({ ttl: { set: 10, floor: 5 } }),
      "rules[2].ttl.floor",
      "cannot be combined with set",
    ],
    [
      "set excludes cap",
      rule({ ttl: { set: 10, cap: 5 } }),
      "rules[2].ttl.cap",
      "cannot be combined with set",
    ],
    [
      "ttl needs set, floor or cap",
      rule({ ttl: {} }),
      "rules[2].ttl",
      "must have set, floor or cap",
    ],
    ["ttl values are seconds ≥ 0", rule({ ttl: { cap: -1 } }), "rules[2].ttl.cap", "≥ 0"],
    [
      "ttl values are whole seconds",
      rule({ ttl: { set: 0.5 } }),
      "rules[2].ttl.set",
      "whole number",
    ],
    ["unknown ttl key (typo)", rule({ ttl: { flor: 5 } }), "rules[2].ttl.flor", "unknown key"],
    ["a rule must do something", rule({ match: { path: "/a" } }), "rules[2]", "rule does nothing"],
    ["bypass: false alone does nothing", rule({ bypass: false }), "rules[2]", "rule does nothing"],
    [
      "bypass excludes ttl",
      rule({ bypass: true, ttl: { set: 5 } }),
      "rules[2].ttl",
      "cannot be combined with bypass",
    ],
    [
      "bypass excludes stale windows",
      rule({ bypass: true, staleIfError: 5 }),
      "rules[2].staleIfError",
      "cannot be combined with bypass",
    ],
    [
      "staleWhileRevalidate ≥ 0",
      rule({ staleWhileRevalidate: -1 }),
      "rules[2].staleWhileRevalidate",
      "≥ 0",
    ],
    ["rule name not empty", rule({ name: "", bypass: true }), "rules[2].name", "must not be empty"],
    [
      "path glob starts with /",
      rule({ match: { path: "static/*" }, bypass: true }),
      "rules[2].match.path",
      'start with "/"',
    ],
    [
      "each glob of a list is checked",
      rule({ match: { path: ["/a", "b"] }, bypass: true }),
      "rules[2].match.path[1]",
      'start with "/"',
    ],
    [
      "path list not empty",
      rule({ match: { path: [] }, bypass: true }),
      "rules[2].match.path",
      "must not be empty",
    ],
    [
      "** must be a whole segment",
      rule({ match: { path: "/a**/b" }, bypass: true }),
      "rules[2].match.path",
      "whole path segment",
    ],
    [
      "a glob has no query",
      rule({ match: { path: "/a?b=1" }, bypass: true }),
      "rules[2].match.path",
      '"?"',
    ],
    [
      "a glob has no dot segments",
      rule({ match: { path: "/a/../b" }, bypass: true }),
      "rules[2].match.path",
      "dot segments",
    ],
    [
      "path is a string or array",
      rule({ match: { path: 5 }, bypass: true }),
      "rules[2].match.path",
      "",
    ],
    [
      "methods are uppercase (RFC 9110 §9.1)",
      rule({ match: { methods: ["get"] }, bypass: true }),
      "rules[2].match.methods[0]",
      "uppercase",
    ],
    [
      "methods are tokens",
      rule({ match: { methods: ["GE T"] }, bypass: true }),
      "rules[2].match.methods[0]",
      "method",
    ],
    [
      "methods not empty",
      rule({ match: { methods: [] }, bypass: true }),
      "rules[2].match.methods",
      "must not be empty",
    ],
    [
      "status ≤ 599",
      rule({ match: { status: [200, 600] }, bypass: true }),
      "rules[2].match.status[1]",
      "",
    ],
    [
      "status ≥ 100",
      rule({ match: { status: [99] }, bypass: true }),
      "rules[2].match.status[0]",
      "",
    ],
    [
      "status class is 2xx..5xx",
      rule({ match: { status: ["1xx"] }, bypass: true }),
      "rules[2].match.status[0]",
      "",
    ],
    [
      "status is an integer",
      rule({ match: { status: [200.5] }, bypass: true }),
      "rules[2].match.status[0]",
      "",
    ],
    [
      "contentType is type/subtype",
      rule({ match: { contentType: ["html"] }, bypass: true }),
      "rules[2].match.contentType[0]",
      "type/subtype",
    ],
    [
      "contentType has no parameters",
      rule({ match: { contentType: ["text/html; charset=utf-8"] }, bypass: true }),
      "rules[2].match.contentType[0]",
      "without parameters",
    ],
    [
      "contentType */* is rejected (omit contentType instead)",
      rule({ match: { contentType: ["*/*"] }, bypass: true }),
      "rules[2].match.contentType[0]",
      "omit contentType",
    ],
    [
      "unknown match key (typo)",
      rule({ match: { paths: "/a" }, bypass: true }),
      "rules[2].match.paths",
      "unknown key",
    ],
    ["unknown rule key (typo)", rule({ bypas: true }), "rules[2].bypas", "unknown key"],
    // key
    ["key.scheme is a boolean", { key: { scheme: "yes" } }, "key.scheme", "boolean"],
    ["key.host is a boolean", { key: { host: 1 } }, "key.host", "boolean"],
    [
      "query mode is one of all/allow/deny/none",
      { key: { query: { mode: "some" } } },
      "key.query.mode",
      "all",
    ],
    [
      "allow mode needs params",
      { key: { query: { mode: "allow" } } },
      "key.query.params",
      'mode "allow" needs',
    ],
    [
      "deny mode needs params",
      { key: { query: { mode: "deny", params: [] } } },
      "key.query.params",
      'mode "deny" needs',
    ],
    [
      "params are only for allow/deny",
      { key: { query: { params: ["a"] } } },
      "key.query.params",
      "only used with",
    ],
    [
      "params wildcard only at the end",
      { key: { query: { mode: "deny", params: ["a*b"] } } },
      "key.query.params[0]",
      "only allowed at the end",
    ],
    [
      "params bare * is rejected",
      { key: { query: { mode: "deny", params: ["*"] } } },
      "key.query.params[0]",
      "use mode",
    ],
    [
      "params have no duplicates",
      { key: { query: { mode: "deny", params: ["a", "a"] } } },
      "key.query.params[1]",
      "duplicate",
    ],
    [
      "an allowed param that tracking would drop is a contradiction",
      { key: { query: { mode: "allow", params: ["page", "UTM_source"] } } },
      "key.query.params[1]",
      'tracking param "utm_*"',
    ],
    [
      "an allowed prefix overlapping a tracking param is a contradiction",
      { key: { query: { mode: "allow", params: ["fb*"] } } },
      "key.query.params[0]",
      'tracking param "fbclid"',
    ],
    [
      "trackingParams not empty strings",
      { key: { query: { trackingParams: [""] } } },
      "key.query.trackingParams[0]",
      "must not be empty",
    ],
    [
      "trackingParams no case-insensitive duplicates",
      { key: { query: { trackingParams: ["gclid", "GCLID"] } } },
      "key.query.trackingParams[1]",
      "duplicate",
    ],
    [
      "dropTracking is a boolean",
      { key: { query: { dropTracking: "no" } } },
      "key.query.dropTracking",
      "boolean",
    ],
    ["sort is a boolean", { key: { query: { sort: null } } }, "key.query.sort", "boolean"],
    [
      "key headers are header names",
      { key: { headers: ["x device"] } },
      "key.headers[0]",
      "header name",
    ],
    [
      "key headers must not include cookie (use key.cookies)",
      { key: { headers: ["Cookie"] } },
      "key.headers[0]",
      "key.cookies",
    ],
    [
      "key headers have no duplicates (case-insensitive)",
      { key: { headers: ["x-a", "X-A"] } },
      "key.headers[1]",
      "duplicate",
    ],
    [
      "key cookies are cookie names",
      { key: { cookies: ["a=b"] } },
      "key.cookies[0]",
      "cookie name",
    ],
    [
      "key cookies have no duplicates",
      { key: { cookies: ["a", "a"] } },
      "key.cookies[1]",
      "duplicate",
    ],
    ["unknown key spec key (typo)", { key: { cookie: ["a"] } }, "key.cookie", "unknown key"],
    [
      "unknown query key (typo)",
      { key: { query: { order: true } } },
      "key.query.order",
      "unknown key",
    ],
    // images
    [
      "image paths are globs",
      { images: { paths: ["*.jpg"] } },
      "images.paths[0]",
      'start with "/"',
    ],
    ["image formats are avif or webp", { images: { formats: ["jpeg"] } }, "images.formats[0]", ""],
    [
      "image formats have no duplicates",
      { images: { formats: ["webp", "webp"] } },
      "images.formats[1]",
      "duplicate",
    ],
    ["widths are positive", { images: { widths: [0, 10] } }, "images.widths[0]", "positive"],
    ["widths are integers", { images: { widths: [10.5] } }, "images.widths[0]", "integer"],
    ["widths ascend strictly", { images: { widths: [100, 50] } }, "images.widths[1]", "ascending"],
    [
      "widths has no repeated step",
      { images: { widths: [100, 100] } },
      "images.widths[1]",
      "ascending",
    ],
    ["widths not empty", { images: { widths: [] } }, "images.widths", "must not be empty"],
    ["dprs ≥ 1", { images: { dprs: [0.5, 1] } }, "images.dprs[0]", "between 1 and 3"],
    ["dprs ≤ 3", { images: { dprs: [1, 4] } }, "images.dprs[1]", "between 1 and 3"],
    ["dprs ascend", { images: { dprs: [2, 1] } }, "images.dprs[1]", "ascending"],
    ["dprs not empty", { images: { dprs: [] } }, "images.dprs", "must not be empty"],
    [
      "transformPrefix starts and ends with /",
      { images: { transformPrefix: "/img" } },
      "images.transformPrefix",
      'end with "/"',
    ],
    [
      "fallback is not another host (protocol-relative)",
      { images: { fallback: "//evil.example/x.png" } },
      "images.fallback",
      "same host",
    ],
    [
      "fallback is not an absolute URL",
      { images: { fallback: "https://evil.example/x.png" } },
      "images.fallback",
      "same host",
    ],
    [
      "fallback is not a backslash trick",
      { images: { fallback: "/\\evil.example/x.png" } },
      "images.fallback",
      "same host",
    ],
    [
      "transformPrefix is not /",
      { images: { transformPrefix: "/" } },
      "images.transformPrefix",
      'not be "/"',
    ],
    [
      "an output side over WebP's largest (16383)",
      { images: { limits: { maxOutputWidth: 16_384 } } },
      "images.limits.maxOutputWidth",
      "16383",
    ],
    ["unknown images key (typo)", { images: { width: [1] } }, "images.width", "unknown key"],
    // bypassCookies and the root
    [
      "bypassCookies are cookie names",
      { bypassCookies: ["a b"] },
      "bypassCookies[0]",
      "cookie name",
    ],
    ["bypassCookies is an array", { bypassCookies: "session" }, "bypassCookies", "array"],
    [
      "a ttl on a rule that only matches POST never applies",
      { rules: [{ match: { methods: ["POST"] }, ttl: { set: 60 } }] },
      "rules[0].ttl",
      "never applies",
    ],
    [
      "Cache-Control is not a targeted field",
      { cache: { targetedCacheControl: ["CDN-Cache-Control", "cache-control"] } },
      "cache.targetedCacheControl[1]",
      "list only targeted fields",
    ],
    [
      "a bypass cookie prefix needs a prefix",
      { bypassCookies: ["*"] },
      "bypassCookies[0]",
      "prefix",
    ],
    [
      "a bypass cookie's * goes at the end",
      { bypassCookies: ["a*b"] },
      "bypassCookies[0]",
      "at the end",
    ],
    ["unknown top-level key (typo)", { rule: [] }, "rule", "unknown key"],
  ];

  it.each(cases)("%s → %s", (_name, patch, path, message) => {
    const err = configError(withConfig(patch));
    const issue = err.issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify(err.issues)}`).toBeDefined();
    expect(issue?.message).toContain(message);
    expect(err.message).toContain(`${path}: ${issue?.message}`);
  });
});

describe("ConfigError", () => {
  it("names every bad field at once, so all can be fixed in one go", () => {
    const err = configError({
      origins: [{ ...ORIGIN, url: "ftp://x" }],
      rules: [{ ttl: { floor: 9, cap: 1 } }],
      key: { query: { mode: "nope" } },
    });
    expect(err.issues.map((i) => i.path)).toEqual([
      "origins[0].url",
      "rules[0].ttl.floor",
      "key.query.mode",
    ]);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("ConfigError");
  });

  it("names the source when one is given", () => {
    expect(configError({}, "/etc/cdn.json").message).toMatch(
      /^Invalid CDN config \(\/etc\/cdn\.json\):/,
    );
  });

  it("a non-object config is reported at the root", () => {
    for (const bad of [null, [], "x", 5]) {
      expect(configError(bad).issues).toEqual([
        { path: "", message: expect.stringContaining("object") },
      ]);
    }
  });

  it("each unknown key of one object is its own issue", () => {
    const err = configError(withConfig({ cache: { a: 1, b: 2 } }));
    expect(err.issues.map((i) => i.path)).toEqual(["cache.a", "cache.b"]);
  });

  it("never throws anything but ConfigError, whatever the input (fuzzed)", () => {
    const shapes = fc.oneof(
      fc.anything(),
      fc.record(
        { origins: fc.anything(), rules: fc.anything(), key: fc.anything(), images: fc.anything() },
        { requiredKeys: [] },
      ),
      fc.record({
        origins: fc.array(
          fc.record({ name: fc.anything(), url: fc.anything(), hosts: fc.anything() }),
        ),
      }),
      fc.record({
        origins: fc.constant([ORIGIN]),
        key: fc.record({
          query: fc.record(
            {
              mode: fc.constantFrom("allow", "deny", "all"),
              params: fc.anything(),
              trackingParams: fc.anything(),
            },
            { requiredKeys: [] },
          ),
        }),
      }),
    );
    fc.assert(
      fc.property(shapes, (input) => {
        try {
          parseConfig(input);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseConfigJson", () => {
  it("parses valid JSON text", () => {
    expect(parseConfigJson(JSON.stringify(MINIMAL), "cdn.json").origins[0]?.name).toBe("main");
  });

  it("a JSON syntax error is a ConfigError naming the source", () => {
    const err = (() => {
      try {
        parseConfigJson('{"origins": [', "config/cdn.json");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain("(config/cdn.json)");
    expect((err as ConfigError).message).toContain("invalid JSON");
  });

  it("valid JSON with a bad field still names the field", () => {
    expect(() => parseConfigJson('{"origins": []}', "x.json")).toThrow(
      /origins: must list at least one origin/,
    );
  });
});

describe("documentation: every field carries a description for the README reference", () => {
  type Node = {
    description?: string;
    def: { type: string; innerType?: Node; shape?: Record<string, Node>; element?: Node };
  };

  /** Description on the field or on any wrapper (optional/default) around it. */
  function describedWithin(node: Node): { described: boolean; core: Node } {
    let described = node.description !== undefined;
    let core = node;
    while (core.def.innerType !== undefined) {
      core = core.def.innerType;
      described ||= core.description !== undefined;
    }
    return { described, core };
  }

  function undocumented(node: Node, path: string): string[] {
    const { core } = describedWithin(node);
    const out: string[] = [];
    const shape =
      core.def.type === "object"
        ? core.def.shape
        : core.def.element?.def.type === "object"
          ? core.def.element.def.shape
          : undefined;
    for (const [name, child] of Object.entries(shape ?? {})) {
      if (!describedWithin(child).described) out.push(`${path}${name}`);
      out.push(...undocumented(child, `${path}${name}.`));
    }
    return out;
  }

  it("no field lacks a .describe()", () => {
    expect(undocumented(CdnConfigSchema as unknown as Node, "")).toEqual([]);
  });
});
