import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type KeySpec, parseConfig } from "../../../core/config/index.ts";
import { normalisePercentEncoding, normaliseUrl } from "../../../core/key/index.ts";

function keySpec(key: Record<string, unknown> = {}): KeySpec {
  return parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["localhost"] }],
    key,
  }).key;
}

const DEFAULT = keySpec();

describe("normalisePercentEncoding (RFC 3986 §6.2.2.1, §6.2.2.2)", () => {
  const cases: [name: string, input: string, expected: string][] = [
    ["no escapes: unchanged", "/a/b", "/a/b"],
    ["hex digits are uppercased (§6.2.2.1)", "/%c3%a9", "/%C3%A9"],
    ["escaped unreserved letters and digits are decoded (§6.2.2.2)", "/%41%7a%30", "/Az0"],
    ["escaped - . _ ~ are decoded (§2.3)", "/%2D%2e%5F%7e", "/-._~"],
    [
      "an escaped slash stays escaped: decoding it would change the path's segments",
      "/a%2fb",
      "/a%2Fb",
    ],
    [
      "escaped reserved characters stay escaped (§2.2)",
      "%3a%3F%23%5b%5D%40%21%24%26%27%28%29%2A%2b%2C%3B%3d",
      "%3A%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D",
    ],
    ["an escaped percent stays escaped", "%25", "%25"],
    ["an escaped space stays escaped (not unreserved)", "%20", "%20"],
    ["non-ASCII bytes stay escaped", "%ff%80", "%FF%80"],
    ["an invalid escape is kept as written", "/a%zz", "/a%zz"],
    ["a half-hex escape is kept as written, lowercase and all", "/%a/%4g", "/%a/%4g"],
    ["a trailing percent is kept", "/a%", "/a%"],
    ["a percent before two chars at the very end", "/%4", "/%4"],
    ["a valid escape right after an invalid one", "%%7A", "%z"],
    ["an escape at the very end is normalised", "/x%7e", "/x~"],
    ["a decoded % never forms a new escape", "%2541", "%2541"],
    ["a decoded hex digit never completes a stray % (idempotence)", "%%41a", "%%41a"],
    ["a decoded hex digit never completes a stray %X (idempotence)", "%4%31", "%4%31"],
    ["a decoded non-hex char after a stray % is fine", "%%7e", "%~"],
    ["a hex digit not after a stray % is decoded as usual", "%41%42", "AB"],
  ];
  it.each(cases)("%s: %s → %s", (_name, input, expected) => {
    expect(normalisePercentEncoding(input)).toBe(expected);
  });

  it("is idempotent on any string (property; dense in %, hex digits and unreserved chars)", () => {
    const unit = fc.constantFrom("%", "%", "3", "4", "1", "7", "e", "F", "g", "~", "é");
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), (s) => {
        const once = normalisePercentEncoding(s);
        expect(normalisePercentEncoding(once)).toBe(once);
      }),
      { numRuns: 20_000 },
    );
  });

  it("is linear: 1 MB of escapes in well under a second", () => {
    const s = "%7e%2f%zz".repeat(120_000);
    const started = performance.now();
    expect(normalisePercentEncoding(s).length).toBe("~%2F%zz".length * 120_000);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("normaliseUrl", () => {
  const cases: [name: string, input: string, key: Record<string, unknown>, expectedUrl: string][] =
    [
      // scheme, host, port (RFC 3986 §6.2.2.1, §6.2.3)
      [
        "scheme and host are lowercased, path case kept (§6.2.2.1)",
        "HTTP://WWW.Example.COM/Path",
        {},
        "http://www.example.com/Path",
      ],
      [
        "the default https port is removed (§6.2.3)",
        "https://example.com:443/",
        {},
        "https://example.com/",
      ],
      [
        "the default http port is removed (§6.2.3)",
        "http://example.com:80/",
        {},
        "http://example.com/",
      ],
      ["a non-default port is kept", "https://example.com:8443/", {}, "https://example.com:8443/"],
      [
        "an IDN host becomes punycode",
        "https://bücher.example/",
        {},
        "https://xn--bcher-kva.example/",
      ],
      ["an IPv6 host keeps its brackets", "http://[::1]:8080/a", {}, "http://[::1]:8080/a"],
      [
        "userinfo is dropped: never keyed, never forwarded",
        "https://user:pw@example.com/",
        {},
        "https://example.com/",
      ],
      [
        "the fragment is dropped: never sent to an origin",
        "https://example.com/a#section",
        {},
        "https://example.com/a",
      ],
      // path
      ["an empty path is / (§6.2.3)", "https://example.com", {}, "https://example.com/"],
      [
        "dot segments are removed (§6.2.2.3)",
        "https://example.com/a/./b/../c",
        {},
        "https://example.com/a/c",
      ],
      [
        "encoded dot segments are removed too",
        "https://example.com/a/%2e%2E/c",
        {},
        "https://example.com/c",
      ],
      [
        "dot segments cannot climb above the root",
        "https://example.com/../../etc/passwd",
        {},
        "https://example.com/etc/passwd",
      ],
      [
        "percent hex is uppercased in the path (§6.2.2.1)",
        "https://example.com/a%2fb",
        {},
        "https://example.com/a%2Fb",
      ],
      [
        "escaped unreserved characters are decoded in the path (§6.2.2.2)",
        "https://example.com/%7Euser/%41",
        {},
        "https://example.com/~user/A",
      ],
      [
        "unicode in the path is UTF-8 percent-encoded",
        "https://example.com/café",
        {},
        "https://example.com/caf%C3%A9",
      ],
      [
        "an invalid escape in the path is kept",
        "https://example.com/100%/%zz",
        {},
        "https://example.com/100%/%zz",
      ],
      [
        "a backslash is a slash (WHATWG URL)",
        "https://example.com/a\\b",
        {},
        "https://example.com/a/b",
      ],
      [
        "a trailing slash is significant and kept",
        "https://example.com/a/",
        {},
        "https://example.com/a/",
      ],
      // query: structure
      ["a bare ? is no query", "https://example.com/a?", {}, "https://example.com/a"],
      [
        "empty pairs are dropped",
        "https://example.com/?&&a=1&&b=2&",
        {},
        "https://example.com/?a=1&b=2",
      ],
      ["only empty pairs: no query at all", "https://example.com/?&&&", {}, "https://example.com/"],
      [
        "a name without = is kept as written",
        "https://example.com/?flag",
        {},
        "https://example.com/?flag",
      ],
      [
        "a name with an empty value is kept as written",
        "https://example.com/?flag=",
        {},
        "https://example.com/?flag=",
      ],
      [
        "; is not a separator: data to many origins",
        "https://example.com/?b=1;a=2",
        {},
        "https://example.com/?b=1;a=2",
      ],
      [
        "an encoded & inside a value does not split the pair",
        "https://example.com/?b=x%26a%3D1&a=2",
        {},
        "https://example.com/?a=2&b=x%26a%3D1",
      ],
      [
        "percent-encoding is normalised in the query",
        "https://example.com/?q=%7e%2f%c3%a9",
        {},
        "https://example.com/?q=~%2F%C3%A9",
      ],
      [
        "an invalid escape in the query is kept",
        "https://example.com/?q=100%",
        {},
        "https://example.com/?q=100%",
      ],
      [
        "a space in the query is encoded as %20 by the parser",
        "https://example.com/?q=a b",
        {},
        "https://example.com/?q=a%20b",
      ],
      [
        "+ stays + (not a space outside form encoding)",
        "https://example.com/?q=c++",
        {},
        "https://example.com/?q=c++",
      ],
      // query: sort
      [
        "params are sorted by name",
        "https://example.com/?c=3&a=1&b=2",
        {},
        "https://example.com/?a=1&b=2&c=3",
      ],
      [
        "the sort is stable: repeated names keep their order",
        "https://example.com/?b=0&a=2&a=1&a=3",
        {},
        "https://example.com/?a=2&a=1&a=3&b=0",
      ],
      [
        "sort compares names only, not values",
        "https://example.com/?a=z&a=a",
        {},
        "https://example.com/?a=z&a=a",
      ],
      [
        "sort: false keeps the client's order",
        "https://example.com/?c=3&a=1",
        { query: { sort: false } },
        "https://example.com/?c=3&a=1",
      ],
      // query: tracking
      [
        "utm_* params are dropped",
        "https://example.com/p?utm_source=x&id=1&utm_campaign=y",
        {},
        "https://example.com/p?id=1",
      ],
      [
        "click ids are dropped",
        "https://example.com/p?fbclid=1&gclid=2&msclkid=3&id=1",
        {},
        "https://example.com/p?id=1",
      ],
      [
        "tracking names match case-insensitively",
        "https://example.com/p?UTM_Source=x&FBCLID=y&id=1",
        {},
        "https://example.com/p?id=1",
      ],
      [
        "a tracking name written with escapes is still dropped",
        "https://example.com/p?utm%5Fsource=x&%66bclid=1&id=1",
        {},
        "https://example.com/p?id=1",
      ],
      [
        "a prefix must match from the start",
        "https://example.com/p?xutm_source=1",
        {},
        "https://example.com/p?xutm_source=1",
      ],
      [
        "dropTracking: false keeps them",
        "https://example.com/p?utm_source=x",
        { query: { dropTracking: false } },
        "https://example.com/p?utm_source=x",
      ],
      [
        "custom tracking params replace the defaults",
        "https://example.com/p?ref=a&utm_source=b",
        { query: { trackingParams: ["ref"] } },
        "https://example.com/p?utm_source=b",
      ],
      // query: modes
      [
        "mode none removes the query from the key and the forwarded URL",
        "https://example.com/p?a=1&b=2",
        { query: { mode: "none" } },
        "https://example.com/p",
      ],
      [
        "mode allow keeps only listed params",
        "https://example.com/p?page=2&debug=1&q=x",
        { query: { mode: "allow", params: ["page", "q"] } },
        "https://example.com/p?page=2&q=x",
      ],
      [
        "mode allow is case-sensitive",
        "https://example.com/p?Page=2&page=3",
        { query: { mode: "allow", params: ["page"] } },
        "https://example.com/p?page=3",
      ],
      [
        "mode allow with a prefix",
        "https://example.com/p?f_color=red&f_size=m&x=1",
        { query: { mode: "allow", params: ["f_*"] } },
        "https://example.com/p?f_color=red&f_size=m",
      ],
      [
        "mode allow still drops tracking params",
        "https://example.com/p?page=1&utm_source=x",
        { query: { mode: "allow", params: ["page", "utm2"] } },
        "https://example.com/p?page=1",
      ],
      [
        "mode deny removes listed params",
        "https://example.com/p?page=2&session=abc&sessionid=d",
        { query: { mode: "deny", params: ["session*"] } },
        "https://example.com/p?page=2",
      ],
      [
        "mode deny with nothing left: no query",
        "https://example.com/p?nocache=1",
        { query: { mode: "deny", params: ["nocache"] } },
        "https://example.com/p",
      ],
      [
        "an encoded name is compared decoded",
        "https://example.com/p?caf%C3%A9=1&x=2",
        { query: { mode: "allow", params: ["café"] } },
        "https://example.com/p?caf%C3%A9=1",
      ],
      // other schemes: handled, never thrown on
      ["a file URL keeps its empty host", "file:///etc/hosts", {}, "file:///etc/hosts"],
      [
        "an opaque URL keeps its form",
        "mailto:someone@example.com?subject=hi",
        {},
        "mailto:someone@example.com?subject=hi",
      ],
      ["a URL without authority keeps a //-path unambiguous", "foo:/.//x", {}, "foo:/.//x"],
    ];
  it.each(cases)("%s", (_name, input, key, expectedUrl) => {
    expect(normaliseUrl(input, keySpec(key)).url).toBe(expectedUrl);
  });

  it("splits the result into scheme, host, path and query", () => {
    expect(normaliseUrl("HTTPS://Example.com:8443/a/%7eb?z=1&utm_medium=x&a=2#f", DEFAULT)).toEqual(
      {
        url: "https://example.com:8443/a/~b?a=2&z=1",
        scheme: "https",
        host: "example.com:8443",
        path: "/a/~b",
        query: "a=2&z=1",
      },
    );
  });

  it("+ and %20 are different keys: origins may read + literally (c++, base64)", () => {
    expect(normaliseUrl("https://e.com/?q=a+b", DEFAULT).query).not.toBe(
      normaliseUrl("https://e.com/?q=a%20b", DEFAULT).query,
    );
  });

  it("a URL object gives the same result as its string", () => {
    const s = "https://Example.com/a/../b?b=1&a=2";
    expect(normaliseUrl(new URL(s), DEFAULT)).toEqual(normaliseUrl(s, DEFAULT));
  });

  it("a huge query is handled in linear time", () => {
    const query = Array.from({ length: 50_000 }, (_, i) => `p${i % 997}=${i}`).join("&");
    const started = performance.now();
    const n = normaliseUrl(`https://example.com/?${query}`, DEFAULT);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(n.query.split("&")).toHaveLength(50_000);
    expect(n.query.startsWith("p0=0&p0=997&")).toBe(true);
  });
});

// Hostile URL material: escapes valid and invalid, dot segments, separators, unicode.
const PIECES = [
  "a",
  "Z",
  "0",
  "~",
  "-",
  ".",
  "..",
  "/",
  "//",
  "\\",
  "%",
  "%2",
  "%2e",
  "%2E%2e",
  "%2f",
  "%7E",
  "%41",
  "%zz",
  "%25",
  "%c3%a9",
  "é",
  "😀",
  "\u00a0",
  " ",
  "+",
  "&",
  "=",
  "?",
  ";",
  "#",
  "'",
  '"',
  "<",
  "{",
  "|",
  "^",
  "`",
  "%34",
  "%61",
  "4",
  "F",
  "utm_source=1",
  "UTM_Campaign=x",
  "a=1",
  "a=2",
  "b=",
  "fbclid=z",
  "%5F",
];
const hostileUrl = fc
  .tuple(
    fc.constantFrom("http://", "https://", "HTTPS://"),
    fc.constantFrom(
      "example.com",
      "EXAMPLE.com:443",
      "b\u00fccher.example",
      "127.0.0.1:8080",
      "[::1]",
      "x.test:80",
    ),
    fc.array(fc.constantFrom(...PIECES), { maxLength: 25 }),
  )
  .map(([scheme, host, rest]) => `${scheme}${host}/${rest.join("")}`);
const anyUrl = fc.oneof(hostileUrl, fc.webUrl({ withQueryParameters: true, withFragments: true }));
const SPECS = [
  DEFAULT,
  keySpec({ query: { sort: false, dropTracking: false } }),
  keySpec({ query: { mode: "allow", params: ["a", "b*"] } }),
  keySpec({ query: { mode: "deny", params: ["a"] } }),
  keySpec({ query: { mode: "none" } }),
];
const anySpec = fc.constantFrom(...SPECS);

describe("normaliseUrl properties", () => {
  it("is idempotent: normalising a normalised URL changes nothing", () => {
    fc.assert(
      fc.property(anyUrl, anySpec, (url, spec) => {
        const once = normaliseUrl(url, spec);
        expect(normaliseUrl(once.url, spec)).toEqual(once);
      }),
      { numRuns: 3000 },
    );
  });

  it("the forwarded URL is already in the URL parser's canonical form", () => {
    fc.assert(
      fc.property(anyUrl, anySpec, (url, spec) => {
        const { url: out } = normaliseUrl(url, spec);
        expect(new URL(out).href).toBe(out);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws for a string the URL parser accepts", () => {
    const anything = fc.oneof(
      anyUrl,
      fc.string({ unit: "binary", maxLength: 40 }).map((s) => `http://example.com/${s}`),
      fc.string({ unit: "binary", maxLength: 40 }).map((s) => `x-custom:${s}`),
      fc.string({ unit: "binary", maxLength: 60 }),
    );
    fc.assert(
      fc.property(anything, anySpec, (url, spec) => {
        if (!URL.canParse(url)) return;
        normaliseUrl(url, spec);
      }),
      { numRuns: 3000 },
    );
  });

  it("the order of distinct params does not change the key", () => {
    const pair = fc.tuple(fc.stringMatching(/^[a-z]{1,4}$/), fc.stringMatching(/^[a-z0-9%]{0,4}$/));
    fc.assert(
      fc.property(fc.uniqueArray(pair, { selector: ([n]) => n, maxLength: 8 }), (pairs) => {
        const q = (ps: [string, string][]) =>
          `https://e.com/?${ps.map(([n, v]) => `${n}=${v}`).join("&")}`;
        expect(normaliseUrl(q([...pairs].reverse()), DEFAULT).query).toBe(
          normaliseUrl(q(pairs), DEFAULT).query,
        );
      }),
    );
  });
});

describe("normaliseUrl on hostile query names", () => {
  const spec = keySpec({ query: { mode: "deny", params: ["café", "debug"] } });
  it.each([
    [
      "invalid escapes are kept as written and never throw",
      "https://e.com/?%zz=1&%=2&%ff=3",
      "%=2&%FF=3&%zz=1",
    ],
    [
      "a truncated UTF-8 sequence is kept, not thrown on",
      "https://e.com/?caf%C3=1&a=2",
      "a=2&caf%C3=1",
    ],
    ["an encoded deny-listed name is dropped", "https://e.com/?caf%C3%A9=1&d%65bug=1&a=2", "a=2"],
    ["an encoded tracking name is dropped", "https://e.com/?utm%5Fsource=x&a=2", "a=2"],
  ])("%s", (_, input, query) => {
    expect(normaliseUrl(input, spec).query).toBe(query);
  });
});
