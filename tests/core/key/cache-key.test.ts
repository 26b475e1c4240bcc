import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type KeySpec, parseConfig } from "../../../core/config/index.ts";
import {
  buildCacheKey,
  hasAnyCookie,
  normaliseUrl,
  readCookies,
  storageName,
} from "../../../core/key/index.ts";

function keySpec(key: Record<string, unknown> = {}): KeySpec {
  return parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }],
    key,
  }).key;
}

function key(
  url: string,
  spec: KeySpec,
  headers: Record<string, string> = {},
  variant?: string,
  method?: string,
) {
  return buildCacheKey(
    { url: normaliseUrl(url, spec), headers: new Headers(headers), method },
    spec,
    variant,
  );
}

const DEFAULT = keySpec();
const KEYED = keySpec({ headers: ["x-device", "accept-language"], cookies: ["lang", "ab"] });

describe("buildCacheKey components", () => {
  it("is a JSON tuple: method, scheme, host, path, query, headers, cookies, variant", () => {
    const k = key(
      "https://Example.com/a?b=1&a=2",
      KEYED,
      { "X-Device": "mobile", cookie: "ab=B; lang=fr" },
      "webp;w=640",
    );
    expect(JSON.parse(k)).toEqual([
      null,
      "https",
      "example.com",
      "/a",
      "a=2&b=1",
      [
        ["x-device", "mobile"],
        ["accept-language", null],
      ],
      [
        ["lang", "fr"],
        ["ab", "B"],
      ],
      "webp;w=640",
    ]);
  });

  const same: [name: string, a: Parameters<typeof key>, b: Parameters<typeof key>][] = [
    [
      "two spellings of one URL share a key",
      ["https://EXAMPLE.com:443/%7ea/./b?y=1&x=2", DEFAULT],
      ["https://example.com/~a/b?x=2&y=1", DEFAULT],
    ],
    [
      "tracking params do not split the cache",
      ["https://e.com/p?utm_source=news", DEFAULT],
      ["https://e.com/p", DEFAULT],
    ],
    [
      "GET and HEAD share an entry (RFC 9110 §9.3.2)",
      ["https://e.com/", DEFAULT, {}, undefined, "GET"],
      ["https://e.com/", DEFAULT, {}, undefined, "HEAD"],
    ],
    [
      "no method given is GET",
      ["https://e.com/", DEFAULT, {}, undefined, undefined],
      ["https://e.com/", DEFAULT, {}, undefined, "GET"],
    ],
    [
      "scheme: false lets http and https share",
      ["http://e.com/", keySpec({ scheme: false })],
      ["https://e.com/", keySpec({ scheme: false })],
    ],
    [
      "host: false lets hosts share",
      ["https://a.com/x", keySpec({ host: false })],
      ["https://b.com/x", keySpec({ host: false })],
    ],
    [
      "headers not in the spec do not split the cache",
      ["https://e.com/", DEFAULT, { "x-device": "a" }],
      ["https://e.com/", DEFAULT, { "x-device": "b" }],
    ],
    [
      "cookies not in the spec do not split the cache",
      ["https://e.com/", KEYED, { cookie: "session=1; lang=en" }],
      ["https://e.com/", KEYED, { cookie: "lang=en; session=2" }],
    ],
    [
      "header names are looked up case-insensitively",
      ["https://e.com/", KEYED, { "X-DEVICE": "m" }],
      ["https://e.com/", KEYED, { "x-device": "m" }],
    ],
    [
      "cookie whitespace is not significant (RFC 6265 §5.2)",
      ["https://e.com/", KEYED, { cookie: "lang = en ;ab=1" }],
      ["https://e.com/", KEYED, { cookie: "lang=en; ab=1" }],
    ],
  ];
  it.each(same)("%s", (_name, a, b) => {
    expect(key(...a)).toBe(key(...b));
  });

  const different: [name: string, a: Parameters<typeof key>, b: Parameters<typeof key>][] = [
    [
      "scheme is keyed by default: http and https never share",
      ["http://e.com/", DEFAULT],
      ["https://e.com/", DEFAULT],
    ],
    ["host is keyed by default", ["https://a.com/x", DEFAULT], ["https://b.com/x", DEFAULT]],
    [
      // Express, Go and PHP read the first of two same-named cookies, Django the last: a
      // key holding only one would let the origin's other reading be served to everyone.
      "a repeated keyed cookie keys on every value, not only the first",
      ["https://e.com/", KEYED, { cookie: "lang=en; lang=fr" }],
      ["https://e.com/", KEYED, { cookie: "lang=en" }],
    ],
    [
      "the order of a repeated keyed cookie's values is keyed",
      ["https://e.com/", KEYED, { cookie: "lang=en; lang=fr" }],
      ["https://e.com/", KEYED, { cookie: "lang=fr; lang=en" }],
    ],
    ["port is part of the host", ["https://e.com:8443/", DEFAULT], ["https://e.com/", DEFAULT]],
    [
      "path case is significant (RFC 3986 §6.2.2.1)",
      ["https://e.com/A", DEFAULT],
      ["https://e.com/a", DEFAULT],
    ],
    [
      "an encoded slash is not a slash",
      ["https://e.com/a%2Fb", DEFAULT],
      ["https://e.com/a/b", DEFAULT],
    ],
    [
      "repeated param order is significant",
      ["https://e.com/?a=1&a=2", DEFAULT],
      ["https://e.com/?a=2&a=1", DEFAULT],
    ],
    [
      "+ and %20 are different",
      ["https://e.com/?q=a+b", DEFAULT],
      ["https://e.com/?q=a%20b", DEFAULT],
    ],
    [
      "a POST never shares a GET's entry",
      ["https://e.com/", DEFAULT, {}, undefined, "POST"],
      ["https://e.com/", DEFAULT, {}, undefined, "GET"],
    ],
    [
      "a keyed header splits the cache",
      ["https://e.com/", KEYED, { "x-device": "mobile" }],
      ["https://e.com/", KEYED, { "x-device": "desktop" }],
    ],
    [
      "an absent header differs from an empty one",
      ["https://e.com/", KEYED, {}],
      ["https://e.com/", KEYED, { "x-device": "" }],
    ],
    [
      "a keyed cookie splits the cache",
      ["https://e.com/", KEYED, { cookie: "lang=en" }],
      ["https://e.com/", KEYED, { cookie: "lang=fr" }],
    ],
    [
      "an absent cookie differs from an empty one",
      ["https://e.com/", KEYED, {}],
      ["https://e.com/", KEYED, { cookie: "lang=" }],
    ],
    [
      "the variant splits the cache",
      ["https://e.com/a.jpg", DEFAULT, {}, "avif"],
      ["https://e.com/a.jpg", DEFAULT, {}, "webp"],
    ],
    [
      "no variant differs from any variant",
      ["https://e.com/a.jpg", DEFAULT, {}, undefined],
      ["https://e.com/a.jpg", DEFAULT, {}, "jpeg"],
    ],
  ];
  it.each(different)("%s", (_name, a, b) => {
    expect(key(...a)).not.toBe(key(...b));
  });
});

describe("no delimiter collisions: hostile values cannot make two requests share a key", () => {
  const HOSTILE = [
    "|",
    "&",
    '"',
    ",",
    "\n",
    ";",
    "=",
    "\\",
    '","',
    '"],["',
    "]",
    "null",
    '{"a":1}',
    "a|b",
    "a\u0000b",
    "\ud800",
  ];
  // Each pair would collide under a naive `join("|")` or `join(",")` serialisation.
  const pairs: [name: string, a: Record<string, string>, b: Record<string, string>][] = [
    [
      "a | inside one header vs two headers",
      { "x-device": "m|fr" },
      { "x-device": "m", "accept-language": "fr" },
    ],
    [
      "a comma inside one header vs two headers",
      { "x-device": "m,fr" },
      { "x-device": "m", "accept-language": "fr" },
    ],
    [
      "JSON-looking text in a header vs real structure",
      { "x-device": '"],["accept-language","fr' },
      { "x-device": "", "accept-language": "fr" },
    ],
    ["a value that spells null vs an absent header", { "x-device": "null" }, {}],
    [
      "a | inside a cookie value vs two cookies",
      { cookie: "lang=fr|ab=1" },
      { cookie: "lang=fr; ab=1" },
    ],
    [
      "a quote and comma inside a cookie value vs two cookies",
      { cookie: 'lang=fr","ab' },
      { cookie: "lang=fr; ab=" },
    ],
    [
      "one cookie whose value imitates a repeated cookie's list",
      { cookie: 'lang="en","fr"' },
      { cookie: "lang=en; lang=fr" },
    ],
    [
      "a header value imitating the cookie section",
      { "x-device": "lang=fr" },
      { cookie: "lang=fr" },
    ],
  ];
  it.each(pairs)("%s", (_name, a, b) => {
    expect(key("https://e.com/p", KEYED, a)).not.toBe(key("https://e.com/p", KEYED, b));
  });

  it("the key text is exactly JSON.stringify of the tuple, for any values (property)", () => {
    const value = fc.option(fc.string({ unit: "binary", maxLength: 10 }), { nil: null });
    fc.assert(
      fc.property(
        value,
        value,
        fc.option(fc.string({ unit: "binary", maxLength: 6 }), { nil: undefined }),
        (device, language, variant) => {
          const url = normaliseUrl("https://e.com/p?q=1", KEYED);
          const headers = {
            get: (n: string) =>
              n === "x-device" ? device : n === "accept-language" ? language : null,
          };
          expect(buildCacheKey({ url, headers, method: "PURGE" }, KEYED, variant)).toBe(
            JSON.stringify([
              "PURGE",
              "https",
              "e.com",
              "/p",
              "q=1",
              [
                ["x-device", device],
                ["accept-language", language],
              ],
              [
                ["lang", null],
                ["ab", null],
              ],
              variant ?? null,
            ]),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a variant containing delimiters cannot imitate the cookie section", () => {
    const a = key("https://e.com/p", KEYED, { cookie: "lang=fr" }, "x");
    const b = key("https://e.com/p", KEYED, {}, '"],[["lang","fr"]],"x');
    expect(a).not.toBe(b);
  });

  it("injective over random header and cookie values (property)", () => {
    const value = fc.oneof(
      fc.constantFrom(...HOSTILE),
      fc.string({ maxLength: 8 }),
      fc.string({ unit: "binary", maxLength: 6 }),
    );
    const request = fc.record(
      {
        device: fc.option(value, { nil: undefined }),
        language: fc.option(value, { nil: undefined }),
        lang: fc.option(
          value.filter((v) => !/[;\s]/.test(v)),
          { nil: undefined },
        ),
        variant: fc.option(value, { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    const url = normaliseUrl("https://e.com/p", KEYED);
    const headersOf = (r: { device?: string; language?: string; lang?: string }) => ({
      get(name: string): string | null {
        if (name === "x-device") return r.device ?? null;
        if (name === "accept-language") return r.language ?? null;
        if (name === "cookie") return r.lang === undefined ? null : `lang=${r.lang}`;
        return null;
      },
    });
    const facts = (r: { device?: string; language?: string; lang?: string; variant?: string }) =>
      JSON.stringify([
        r.device ?? null,
        r.language ?? null,
        r.lang?.trim() ?? null,
        r.variant ?? null,
      ]);
    fc.assert(
      fc.property(request, request, (a, b) => {
        const ka = buildCacheKey({ url, headers: headersOf(a) }, KEYED, a.variant);
        const kb = buildCacheKey({ url, headers: headersOf(b) }, KEYED, b.variant);
        // Same key exactly when the keyed facts are the same.
        expect(ka === kb).toBe(facts(a) === facts(b));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("readCookies (RFC 6265)", () => {
  const cases: [
    name: string,
    header: string | null,
    names: string[],
    expected: (string | string[] | null)[],
  ][] = [
    ["reads listed cookies in the order asked", "a=1; b=2; c=3", ["c", "a"], ["3", "1"]],
    ["absent cookies are null", "a=1", ["a", "z"], ["1", null]],
    ["no Cookie header: all null", null, ["a"], [null]],
    ["empty header: all null", "", ["a"], [null]],
    ["a repeated name gives every value, in order", "a=1; b=0; a=2", ["a"], [["1", "2"]]],
    ["whitespace around name and value is trimmed (§5.2)", "  a =  1 ;b=2", ["a", "b"], ["1", "2"]],
    ["an empty value is a value, not absence", "a=", ["a"], [""]],
    ["a value may contain =", "a=x=y", ["a"], ["x=y"]],
    ["a quoted value is kept with its quotes", 'a="x y"', ["a"], ['"x y"']],
    ["names are case-sensitive", "Lang=en", ["lang"], [null]],
    ["a pair without = is skipped", "a; b=2", ["a", "b"], [null, "2"]],
    ["a name is not a prefix match", "lang2=x; lang=y", ["lang"], ["y"]],
    ["empty pairs are skipped", ";; a=1;;", ["a"], ["1"]],
  ];
  it.each(cases)("%s", (_name, header, names, expected) => {
    expect(readCookies(header, names)).toEqual(expected);
  });

  it("hasAnyCookie sees a bypass cookie only when present", () => {
    expect(hasAnyCookie("a=1; session=x", ["session"])).toBe(true);
    expect(hasAnyCookie("a=1; sessions=x", ["session"])).toBe(false);
    expect(hasAnyCookie(null, ["session"])).toBe(false);
    expect(hasAnyCookie("session=", ["session"])).toBe(true);
  });

  it("hasAnyCookie matches a prefix pattern (WordPress suffixes a hash to its cookie)", () => {
    const wp = ["wordpress_logged_in_*", "wp-postpass_*"];
    expect(hasAnyCookie("theme=dark; wordpress_logged_in_3f2a=admin%7C17", wp)).toBe(true);
    expect(hasAnyCookie("wp-postpass_ab=1", wp)).toBe(true);
    expect(hasAnyCookie("wordpress_test_cookie=WP", wp)).toBe(false);
    expect(hasAnyCookie(";".repeat(10_000), wp)).toBe(false);
  });
});

describe("storageName", () => {
  it("is 32 lowercase hex digits (128 bits of SHA-256)", () => {
    expect(storageName(key("https://e.com/a", DEFAULT))).toMatch(/^[0-9a-f]{32}$/);
    expect(storageName("")).toBe("e3b0c44298fc1c149afbf4c8996fb924");
  });

  it("is the same for the same key and differs for different keys", () => {
    expect(storageName(key("https://e.com/a", DEFAULT))).toBe(
      storageName(key("https://E.com/a", DEFAULT)),
    );
    expect(storageName(key("https://e.com/a", DEFAULT))).not.toBe(
      storageName(key("https://e.com/b", DEFAULT)),
    );
  });

  it("keys that differ only in a lone surrogate still get different names", () => {
    // JSON.stringify escapes lone surrogates, so UTF-8 encoding cannot merge them into U+FFFD.
    const a = key("https://e.com/", KEYED, {}, "\ud800");
    const b = key("https://e.com/", KEYED, {}, "\udc00");
    expect(storageName(a)).not.toBe(storageName(b));
  });
});
