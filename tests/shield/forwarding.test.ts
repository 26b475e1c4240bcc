/**
 * What crosses the shield: hop-by-hop fields stay behind in both directions (RFC 9110
 * §7.6.1), Via and X-Forwarded-* are added (§7.6.3), and no request target or Host can
 * make the shield fetch from a host it was not configured for (RFC 9112 §3.2.2).
 */
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { fill, harness } from "./support.ts";

const h = harness();

/** One raw HTTP/1.1 exchange; resolves to the status code and the whole response text. */
function raw(base: string, request: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    // Written, not ended: Node aborts a request whose client half-closes; `Connection:
    // close` makes the server close once it has answered.
    const socket = connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "0"), text });
    });
  });
}

describe("hop-by-hop fields (RFC 9110 §7.6.1)", () => {
  it("are not forwarded to the origin; Via, X-Forwarded-For/-Proto/-Host are added", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    const port = new URL(base).port;
    const res = await raw(
      base,
      [
        "GET /hop HTTP/1.1",
        `Host: 127.0.0.1:${port}`,
        "Connection: close, X-Hop-Secret",
        "X-Hop-Secret: drop me",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "Proxy-Authorization: Basic dXNlcjpwYXNz",
        "Proxy-Connection: keep-alive",
        "Via: 1.1 edge",
        "X-Forwarded-For: 203.0.113.9",
        "X-End-To-End: keep me",
        "",
        "",
      ].join("\r\n"),
    );
    expect(res.status).toBe(200);
    const seen = origin.requests[0]?.headers ?? {};
    for (const name of [
      "x-hop-secret",
      "keep-alive",
      "te",
      "proxy-authorization",
      "proxy-connection",
    ]) {
      expect(seen[name], name).toBeUndefined();
    }
    expect(seen["x-end-to-end"]).toBe("keep me");
    expect(seen.via).toBe("1.1 edge, 1.1 shield");
    // The client is not a trusted proxy: its own X-Forwarded-For is replaced, not extended.
    expect(seen["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen["x-forwarded-proto"]).toBe("http");
    expect(seen["x-forwarded-host"]).toBe(`127.0.0.1:${port}`);
    // The origin's own Host, not the client's (the origin is a configured URL).
    expect(seen.host).toBe(`127.0.0.1:${origin.port}`);
  });

  it("the client's X-Forwarded-Proto/-Host name the scheme and host the origin is told about (trustForwardedHost)", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    await fetch(`${base}/fwd`, {
      headers: { "x-forwarded-proto": "https", "x-forwarded-host": "example.com" },
    });
    const seen = origin.requests[0]?.headers ?? {};
    expect(seen["x-forwarded-proto"]).toBe("https");
    expect(seen["x-forwarded-host"]).toBe("example.com");
    expect(seen.via).toBe("1.1 shield");
    expect(seen["x-forwarded-for"]).toBe("127.0.0.1");
  });

  it("are not relayed from the origin, on the miss or on the hit", async () => {
    const { t } = await h.start((_req, res) => {
      res.writeHead(200, {
        "cache-control": "max-age=60",
        connection: "keep-alive, X-Origin-Hop",
        "x-origin-hop": "secret",
        "keep-alive": "timeout=1",
        "proxy-authenticate": 'Basic realm="origin"',
        "x-end-to-end": "kept",
      });
      res.end("body");
    });
    const base = await t.listen();
    const miss = await raw(
      base,
      "GET /r HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    );
    await t.shield.drain();
    const hit = await raw(
      base,
      "GET /r HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    );
    for (const res of [miss, hit]) {
      expect(res.status).toBe(200);
      const head = res.text.slice(0, res.text.indexOf("\r\n\r\n")).toLowerCase();
      expect(head).not.toContain("x-origin-hop");
      expect(head).not.toContain("proxy-authenticate");
      expect(head).not.toContain("keep-alive: timeout=1");
      expect(head).toContain("x-end-to-end: kept");
      // RFC 9110 §7.6.3: the shield names itself in Via on what it forwards, hit or miss.
      expect(head).toContain("via: 1.1 shield");
      // Whole on the hit (Content-Length), chunked as it streams on the miss.
      expect(["body", "4\r\nbody\r\n0\r\n\r\n"]).toContain(
        res.text.slice(res.text.indexOf("\r\n\r\n") + 4),
      );
    }
    expect(hit.text.toLowerCase()).toContain("cache-status: shield; hit");
  });

  it("are not stored from a 304 either (RFC 9111 §3.2)", async () => {
    let n = 0;
    const { t } = await h.start((_req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(200, { "cache-control": "max-age=1", etag: '"e"' });
        res.end("x");
      } else {
        res.writeHead(304, {
          "cache-control": "max-age=60",
          etag: '"e"',
          connection: "keep-alive, X-Hop-304",
          "x-hop-304": "no",
        });
        res.end();
      }
    });
    await fill(t, "/n");
    t.advance(2_000);
    await fill(t, "/n");
    const hit = await t.request("/n");
    expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=60");
    expect(hit.headers.get("x-hop-304")).toBeNull();
  });
});

describe("no request reaches a host that is not configured (RFC 9112 §3.2.2)", () => {
  const cases = [
    {
      name: "absolute-form naming another host",
      request: "GET http://other.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\n",
      status: 421,
    },
    {
      name: "absolute-form with userinfo",
      request: "GET http://127.0.0.1@other.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\n",
      status: 400,
    },
    {
      name: "Host naming another host",
      request: "GET /x HTTP/1.1\r\nHost: other.example\r\n",
      status: 421,
    },
    {
      name: "Host with userinfo",
      request: "GET /x HTTP/1.1\r\nHost: example.com@other.example\r\n",
      status: 400,
    },
    {
      name: "X-Forwarded-Host naming another host",
      request: "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Host: other.example\r\n",
      status: 421,
    },
  ];

  it.each(cases)("$name → $status, no origin request", async (c) => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    const res = await raw(base, `${c.request}Connection: close\r\n\r\n`);
    expect(res.status).toBe(c.status);
    expect(res.text).toContain('"error":');
    expect(origin.count()).toBe(0);
  });

  it("an absolute-form target naming a configured host is served from the configured origin", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    const res = await raw(
      base,
      "GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
    );
    expect(res.status).toBe(200);
    expect(origin.requests[0]?.url).toBe("/abs?q=1");
    expect(origin.requests[0]?.headers["x-forwarded-host"]).toBe("example.com");
  });

  it("a path that looks like an authority stays on the origin", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    const res = await raw(
      base,
      "GET //other.example/x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    );
    expect(res.status).toBe(200);
    expect(origin.count()).toBe(1);
    expect(origin.requests[0]?.url).toBe("//other.example/x");
  });
});
