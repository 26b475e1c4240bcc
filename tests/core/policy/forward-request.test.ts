import { describe, expect, it } from "vitest";
import {
  type ForwardRequestOptions,
  forwardedView,
  forwardRequestHeaders,
  type HeaderPairs,
} from "../../../core/policy/index.ts";

const OPTIONS: ForwardRequestOptions = {
  method: "GET",
  forCache: true,
  via: "edge",
  host: "www.example.com",
  proto: "https",
  forwardedFor: "203.0.113.7",
};

/** What this hop always writes after the client's fields, with OPTIONS. */
const OWN: HeaderPairs = [
  ["via", "1.1 edge"],
  ["x-forwarded-for", "203.0.113.7"],
  ["x-forwarded-proto", "https"],
  ["x-forwarded-host", "www.example.com"],
];

function forward(client: HeaderPairs, o: Partial<ForwardRequestOptions> = {}): HeaderPairs {
  return forwardRequestHeaders(client, { ...OPTIONS, ...o });
}

/** The client's fields that reach the next hop (this hop's own left out). */
function passed(client: HeaderPairs, o: Partial<ForwardRequestOptions> = {}): HeaderPairs {
  const own = new Set(["via", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);
  return forward(client, o).filter(([n]) => !own.has(n));
}

describe("forwardRequestHeaders: fields that describe the connection (RFC 9110 §7.6.1)", () => {
  it.each([
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
  ])("%s is not forwarded", (name) => {
    expect(
      passed([
        [name, "x"],
        ["accept", "*/*"],
      ]),
    ).toEqual([["accept", "*/*"]]);
  });

  it.each<[name: string, client: HeaderPairs, kept: HeaderPairs]>([
    [
      "a field Connection lists is dropped",
      [
        ["connection", "close, X-Secret"],
        ["x-secret", "1"],
        ["accept", "*/*"],
      ],
      [["accept", "*/*"]],
    ],
    [
      "whatever the case of the listed name or of the field",
      [
        ["X-Secret", "1"],
        ["Connection", "x-SECRET"],
      ],
      [],
    ],
    [
      "both of two Connection fields are honoured",
      [
        ["connection", "x-a"],
        ["x-a", "1"],
        ["x-b", "2"],
        ["connection", "x-b"],
        ["x-c", "3"],
      ],
      [["x-c", "3"]],
    ],
    [
      "an empty member of the list names nothing",
      [
        ["connection", " , ,close"],
        ["x-c", "3"],
      ],
      [["x-c", "3"]],
    ],
  ])("%s", (_, client, kept) => {
    expect(passed(client)).toEqual(kept);
  });
});

describe("forwardRequestHeaders: what the client may not tell the origin", () => {
  // Who the client is and how it connected: a client's own copy is a lie.
  it.each([
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-scheme",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-forwarded-uri",
    "x-forwarded-path",
    "front-end-https",
    "x-url-scheme",
    "x-real-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "cf-visitor",
    "fastly-client-ip",
    "x-forwarded-client-cert",
    "x-arr-ssl",
    "x-arr-clientcert",
  ])("the client's %s is dropped, and only this hop's own fields are sent", (name) => {
    const out = forward([[name, "evil.example, 6.6.6.6"]]);
    expect(out).toEqual(OWN);
  });

  it.each(["x-original-url", "x-original-uri", "x-rewrite-url", "x-host"])(
    "the URL override %s is dropped whatever the method",
    (name) => {
      for (const method of ["GET", "HEAD", "POST", "DELETE"]) {
        expect(passed([[name, "/admin"]], { method, forCache: method === "GET" })).toEqual([]);
      }
    },
  );

  const overrides = ["x-http-method-override", "x-http-method", "x-method-override"];
  it.each<[method: string, kept: boolean]>([
    ["GET", false],
    ["HEAD", false],
    ["POST", true],
    ["PUT", true],
  ])("method overrides on a %s: kept %s", (method, kept) => {
    const client: HeaderPairs = overrides.map((n) => [n, "DELETE"]);
    expect(passed(client, { method, forCache: false })).toEqual(kept ? client : []);
  });

  it.each(["host", "content-length", "expect"])("%s is never forwarded, even on a POST", (name) => {
    const client: HeaderPairs = [[name, name === "expect" ? "100-continue" : "5"]];
    expect(passed(client, { method: "POST", forCache: false })).toEqual([]);
    expect(passed(client)).toEqual([]);
  });
});

describe("forwardRequestHeaders: conditionals and ranges (RFC 9110 §13.1, §14.2)", () => {
  const conditionals: HeaderPairs = [
    ["if-match", '"a"'],
    ["if-none-match", '"b"'],
    ["if-modified-since", "Thu, 01 Jan 2026 00:00:00 GMT"],
    ["if-unmodified-since", "Thu, 01 Jan 2026 00:00:00 GMT"],
    ["if-range", '"c"'],
    ["range", "bytes=0-9"],
  ];

  it("a fetch for the cache drops every one: it wants the complete response", () => {
    expect(passed(conditionals, { forCache: true })).toEqual([]);
  });

  it("a fetch for this client alone keeps them all", () => {
    expect(passed(conditionals, { forCache: false })).toEqual(conditionals);
  });
});

describe("forwardRequestHeaders: what this hop writes", () => {
  it.each<[name: string, client: HeaderPairs, via: string]>([
    ["no Via from the client: this hop's alone", [], "1.1 edge"],
    ["appended to the client's Via (RFC 9110 §7.6.3)", [["via", "1.0 fred"]], "1.0 fred, 1.1 edge"],
    [
      "after every Via line, in order",
      [
        ["Via", "1.0 fred"],
        ["accept", "*/*"],
        ["via", "1.1 p.example"],
      ],
      "1.0 fred, 1.1 p.example, 1.1 edge",
    ],
  ])("Via: %s", (_, client, via) => {
    const out = forward(client);
    expect(out.filter(([n]) => n === "via")).toEqual([["via", via]]);
  });

  it.each<[chain: string | null, sent: HeaderPairs]>([
    ["203.0.113.7", [["x-forwarded-for", "203.0.113.7"]]],
    ["198.51.100.1, 203.0.113.7", [["x-forwarded-for", "198.51.100.1, 203.0.113.7"]]],
    [null, []],
  ])("X-Forwarded-For is exactly the chain %j, whatever the client sent", (chain, sent) => {
    const out = forward([["x-forwarded-for", "6.6.6.6"]], { forwardedFor: chain });
    expect(out.filter(([n]) => n === "x-forwarded-for")).toEqual(sent);
  });

  it("X-Forwarded-Proto and -Host come from the options, not from the client", () => {
    const out = forward(
      [
        ["x-forwarded-proto", "http"],
        ["X-Forwarded-Host", "evil.example"],
      ],
      { proto: "http", host: "shop.example:8443" },
    );
    expect(out.filter(([n]) => n.startsWith("x-forwarded-p") || n === "x-forwarded-host")).toEqual([
      ["x-forwarded-proto", "http"],
      ["x-forwarded-host", "shop.example:8443"],
    ]);
  });

  it("names are lowercased; values, order and repeated fields are kept", () => {
    const out = forward([
      ["Accept-Language", "en-GB, fr;q=0.5"],
      ["COOKIE", "a=1"],
      ["Authorization", "Bearer t"],
      ["X-Custom", "1"],
      ["x-custom", "2"],
    ]);
    expect(out).toEqual([
      ["accept-language", "en-GB, fr;q=0.5"],
      ["cookie", "a=1"],
      ["authorization", "Bearer t"],
      ["x-custom", "1"],
      ["x-custom", "2"],
      ...OWN,
    ]);
  });

  it("takes any iterable of pairs, such as a web Headers", () => {
    const out = forwardRequestHeaders(
      new Headers({ Accept: "text/html", Connection: "x-a", "X-A": "1", Host: "a.example" }),
      OPTIONS,
    );
    expect(out).toEqual([["accept", "text/html"], ...OWN]);
  });
});

describe("forwardedView: the request as the next hop receives it, for the key and Vary", () => {
  const client = new Headers({
    "X-Forwarded-For": "6.6.6.6",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "javascript",
    "X-Forwarded-Port": "1",
    Forwarded: "for=6.6.6.6",
    "True-Client-IP": "6.6.6.6",
    "CF-Connecting-IP": "6.6.6.6",
    "Fastly-Client-IP": "6.6.6.6",
    "Client-IP": "6.6.6.6",
    "X-Original-URL": "/admin",
    "X-HTTP-Method-Override": "DELETE",
    Expect: "100-continue",
    Accept: "text/html",
    Cookie: "a=1",
    "X-Device": "mobile",
  });
  const view = forwardedView(client, "GET", {
    host: "www.example.com",
    proto: "https",
    forwardedFor: "203.0.113.7",
  });

  it("reads the X-Forwarded fields this hop writes, not the client's", () => {
    expect(view.get("x-forwarded-host")).toBe("www.example.com");
    expect(view.get("X-Forwarded-Proto")).toBe("https");
    expect(view.get("x-forwarded-for")).toBe("203.0.113.7");
  });

  it.each([
    "x-forwarded-port",
    "Forwarded",
    "true-client-ip",
    "CF-Connecting-IP",
    "fastly-client-ip",
    "client-ip",
    "X-Original-URL",
    "x-http-method-override",
    "expect",
  ])("reads %s as absent: it never reaches the origin", (name) => {
    expect(view.get(name)).toBeNull();
  });

  it("passes every other field through, in any case", () => {
    expect(view.get("accept")).toBe("text/html");
    expect(view.get("Cookie")).toBe("a=1");
    expect(view.get("x-device")).toBe("mobile");
    expect(view.get("authorization")).toBeNull();
  });

  it("keeps a method override on a POST, as forwardRequestHeaders does", () => {
    const post = forwardedView(client, "POST", {
      host: "h",
      proto: "http",
      forwardedFor: null,
    });
    expect(post.get("x-http-method-override")).toBe("DELETE");
    expect(post.get("x-original-url")).toBeNull();
  });

  it("every field forwardRequestHeaders drops from a GET reads as absent (same lists)", () => {
    const names = [...client.keys()];
    const sent = new Set(forward([...client], { forCache: false }).map(([n]) => n));
    for (const name of names) {
      if (["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"].includes(name)) continue;
      expect(view.get(name) === null, name).toBe(!sent.has(name));
    }
  });
});
