import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitSerialisedUrl } from "../../../core/key/split-url.ts";
import { trickyUrl, viaParser } from "../../shared/tricky-urls.ts";

describe("splitSerialisedUrl: the fast path around new URL()", () => {
  it.each([
    "https://www.example.com/products/shoes?size=42&utm_source=news",
    "http://shop.example:8080/a/b/",
    "https://a-b.example/%E2%82%AC?x=%20&y=/z?w",
    "https://e.com/it's;v=1/@:$!*(),",
    "http://e.com/?",
    "http://e.com//double//slashes",
    "http://127.0.0.1:8080/a?b=1",
    "http://10.250.199.0/",
  ])("splits %s exactly as the WHATWG parser does", (s) => {
    expect(splitSerialisedUrl(s)).toEqual(viaParser(s));
  });

  it.each([
    ["upper-case host", "https://Example.com/"],
    ["default port", "https://e.com:443/"],
    ["leading zero in port", "http://e.com:080/"],
    ["dot segment", "https://e.com/a/../b"],
    ["encoded dot segment", "https://e.com/a/%2E%2e/b"],
    ["backslash", "https://e.com\\\\a"],
    ["no path", "https://e.com"],
    ["userinfo", "https://u:p@e.com/"],
    ["IPv4 shorthand", "http://127.1/"],
    ["IPv4 with a leading zero", "http://127.0.0.01/"],
    ["IPv4 octet over 255", "http://1.2.3.256/"],
    ["IPv4 in hex", "http://0x7f.0.0.1/"],
    ["numeric last label", "http://a.0x10/"],
    ["punycode label", "https://xn--nxasmq6b.com/"],
    ["fragment", "https://e.com/a#top"],
    ["space", "https://e.com/a b"],
    ["apostrophe in the query", "https://e.com/?a='1'"],
    ["non-ASCII", "https://e.com/é"],
    ["stray percent", "https://e.com/100%"],
    ["empty label", "https://a..b/"],
    ["other scheme", "ftp://e.com/"],
  ])("leaves %s to the parser", (_, s) => {
    expect(splitSerialisedUrl(s)).toBeNull();
  });

  it("agrees with the WHATWG parser whenever it answers (property)", () => {
    fc.assert(
      fc.property(trickyUrl, (s) => {
        const fast = splitSerialisedUrl(s);
        if (fast === null) return;
        expect(fast).toEqual(viaParser(s));
      }),
      { numRuns: 20_000 },
    );
  });

  it("answers for most real request URLs (property: serialised URLs)", () => {
    let answered = 0;
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true }), (raw) => {
        const s = new URL(raw).href;
        const fast = splitSerialisedUrl(s);
        if (fast !== null) {
          answered++;
          expect(fast).toEqual(viaParser(s));
        }
      }),
      { numRuns: 2000 },
    );
    // Generated hosts include IPs and IDNs, which rightly take the slow path.
    expect(answered).toBeGreaterThan(500);
  });
});
