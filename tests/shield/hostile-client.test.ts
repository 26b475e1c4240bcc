/**
 * What a client can make the shield do: force the origin-failed path, poison a stored
 * answer with headers the key does not hold, pin every origin connection by not reading,
 * or grow tables keyed by what it sends. Over real sockets.
 */
import { connect, type Socket } from "node:net";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../helpers/origin.ts";
import { harness, until } from "./support.ts";

const h = harness();
let agent: Agent | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await agent?.close();
  agent = undefined;
});

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  agent ??= new Agent({ connections: 50 });
  const res = await request(`${base}${path}`, { dispatcher: agent, headers });
  return {
    status: res.statusCode,
    headers: res.headers,
    cs: String(res.headers["cache-status"] ?? ""),
    body: await res.body.text(),
  };
}

/** Send a request head on a raw socket and read the whole answer (the server closes). */
function raw(base: string, lines: string[], body = ""): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => {
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (body !== "") setTimeout(() => socket.write(body), 50);
    });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

describe("Expect: 100-continue", () => {
  it("on a GET miss is answered by the shield, never forwarded, and the fill succeeds", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    const text = await raw(base, [
      "GET /e HTTP/1.1",
      "Host: 127.0.0.1",
      "Expect: 100-continue",
      "Connection: close",
    ]);
    expect(text).toMatch(/HTTP\/1\.1 200 OK/);
    expect(text).not.toMatch(/origin-reset|502/);
    expect(origin.requests[0]?.headers.expect).toBeUndefined();
  });

  it("on a POST: the client gets 100 Continue from the shield and the body reaches the origin", async () => {
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(201, { "content-type": "text/plain" }).end("created");
      void req;
    });
    const base = await t.listen();
    const text = await raw(
      base,
      [
        "POST /upload HTTP/1.1",
        "Host: 127.0.0.1",
        "Expect: 100-continue",
        "Content-Length: 5",
        "Connection: close",
      ],
      "hello",
    );
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(text).toMatch(/HTTP\/1\.1 201 Created/);
    expect(origin.requests[0]?.body).toBe("hello");
    expect(origin.requests[0]?.headers.expect).toBeUndefined();
    expect(origin.requests[0]?.headers["content-length"]).toBe("5");
  });
});

describe("request headers the key does not hold cannot change what everyone is served", () => {
  const poison: [string, string][] = [
    ["forwarded", "for=1.2.3.4;host=evil.example;proto=https"],
    ["x-forwarded-port", "8443"],
    ["x-forwarded-prefix", "/evil"],
    ["x-forwarded-scheme", "javascript"],
    ["x-forwarded-server", "evil.example"],
    ["x-original-url", "/admin"],
    ["x-rewrite-url", "/admin"],
    ["x-host", "evil.example"],
    ["x-http-method-override", "DELETE"],
    ["x-method-override", "DELETE"],
    ["x-real-ip", "1.2.3.4"],
    ["true-client-ip", "1.2.3.4"],
    ["cf-connecting-ip", "1.2.3.4"],
  ];
  it.each(poison)("%s never reaches the origin", async (name, value) => {
    const { origin, t } = await h.start((req, res) => {
      // An origin framework that obeys the field would answer something else.
      const obeyed = req.headers[name] !== undefined;
      res.writeHead(obeyed ? 404 : 200, { "cache-control": "max-age=60" });
      res.end(obeyed ? "poisoned" : "page");
    });
    const base = await t.listen();
    const attacker = await get(base, "/p", { [name]: value });
    expect(attacker.body).toBe("page");
    expect(origin.requests[0]?.headers[name]).toBeUndefined();
    const victim = await get(base, "/p");
    expect(victim).toMatchObject({ status: 200, body: "page" });
  });

  it("a POST may still tunnel a method through X-HTTP-Method-Override (its answer is never stored)", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(204).end();
    });
    const base = await t.listen();
    agent ??= new Agent();
    await request(`${base}/items/1`, {
      dispatcher: agent,
      method: "POST",
      headers: { "x-http-method-override": "PATCH" },
      body: "{}",
    }).then((r) => r.body.text());
    expect(origin.requests[0]?.headers["x-http-method-override"]).toBe("PATCH");
  });

  it("X-Forwarded-Host names the host as keyed: a default port is not passed on", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    await get(base, "/a", { host: "example.com:80" });
    await get(base, "/a", { host: "Example.COM" });
    expect(origin.requests[0]?.headers["x-forwarded-host"]).toBe("example.com");
    expect(origin.count()).toBe(1);
  });
});

describe("X-Forwarded-For", () => {
  it("a client's own entries are replaced by its address", async () => {
    const { origin, t } = await h.start();
    const base = await t.listen();
    await get(base, "/x", { "x-forwarded-for": "203.0.113.7, 10.0.0.1" });
    expect(origin.requests[0]?.headers["x-forwarded-for"]).toBe("127.0.0.1");
  });

  it("a trusted proxy's chain is kept back to the first address that is not a proxy", async () => {
    const { origin, t } = await h.start(undefined, {
      shield: { trustedProxies: ["127.0.0.1", "10.0.0.0/8"] },
    });
    const base = await t.listen();
    await get(base, "/x", { "x-forwarded-for": "6.6.6.6, 203.0.113.7, 10.1.2.3" });
    // 10.1.2.3 is a proxy, 203.0.113.7 is the client; what the client claimed is dropped.
    expect(origin.requests[0]?.headers["x-forwarded-for"]).toBe("203.0.113.7, 10.1.2.3, 127.0.0.1");
  });

  it("a response varying on X-Forwarded-For is selected by the chain the shield sent, not the one claimed", async () => {
    const { origin, t } = await h.start((req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", vary: "X-Forwarded-For" });
      res.end(`for ${req.headers["x-forwarded-for"]}`);
    });
    const base = await t.listen();
    const a = await get(base, "/geo", { "x-forwarded-for": "1.1.1.1" });
    expect(a.body).toBe("for 127.0.0.1");
    // Another client claiming another address is, to the origin, the same peer.
    const b = await get(base, "/geo", { "x-forwarded-for": "2.2.2.2" });
    expect(b.cs).toMatch(/^shield; hit/);
    expect(b.body).toBe("for 127.0.0.1");
    expect(origin.count()).toBe(1);
  });

  it("a bad trustedProxies entry stops the shield at startup, naming the field", async () => {
    await expect(
      h.start(undefined, { shield: { trustedProxies: ["10.0.0.0/33"] } }),
    ).rejects.toThrow(/shield\.trustedProxies\[0\]/);
  });
});

describe("slow readers and a busy origin", () => {
  it("clients that stop reading large uncacheable bodies do not starve the next miss", async () => {
    const chunk = Buffer.alloc(1024 * 1024, 120);
    let cut = 0;
    const { t } = await h.start(
      async (req, res) => {
        if (req.url === "/small") return void res.writeHead(200).end("small");
        res.on("close", () => {
          if (!res.writableFinished) cut++;
        });
        res.writeHead(200, { "cache-control": "no-store", "content-type": "video/mp4" });
        for (let i = 0; i < 64 && !res.destroyed; i++) {
          if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
        }
        res.end();
      },
      {
        shield: {
          origin: { connections: 4, queueTimeoutMs: 10_000 },
          server: { sendTimeoutMs: 1_000 },
        },
      },
    );
    const base = await t.listen();
    const { port } = new URL(base);
    // Six clients ask for 64 MiB each, then never read a byte.
    for (let i = 0; i < 6; i++) {
      const s = connect(Number(port), "127.0.0.1", () => {
        s.write("GET /video HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        s.pause();
      });
      s.on("error", () => {});
      sockets.push(s);
    }
    await sleep(300);
    const started = Date.now();
    const next = await get(base, "/small");
    expect(next).toMatchObject({ status: 200, body: "small" });
    expect(Date.now() - started).toBeLessThan(8_000);
    // The stalled clients were cut, each releasing its origin connection mid-body (the
    // origin sees each close a moment after the shield lets go of it).
    await until(() => cut >= 4, "four stalled transfers cut at the origin", 5_000);
    expect(cut).toBeGreaterThanOrEqual(4);
  });

  it.each([
    ["a stored object, sent in one write", "max-age=60"],
    ["an uncacheable body, streamed", "no-store"],
  ])(
    "a client that reads steadily is not cut, though the whole body takes longer than sendTimeoutMs: %s",
    async (_name, cacheControl) => {
      const size = 8 * 1024 * 1024;
      const body = Buffer.alloc(size, 97);
      const { t } = await h.start(
        (_req, res) => {
          res.writeHead(200, { "cache-control": cacheControl, "content-length": String(size) });
          res.end(body);
        },
        { shield: { server: { sendTimeoutMs: 2_000 } } },
      );
      const base = await t.listen();
      if (cacheControl !== "no-store") await get(base, "/big");
      // About 3 MB/s, so near 3 s for the body: progress all the way, if in the bursts
      // TCP's window updates allow.
      const started = Date.now();
      const received = await new Promise<number>((resolve, reject) => {
        const { port } = new URL(base);
        const s = connect(Number(port), "127.0.0.1", () => {
          s.write("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        });
        sockets.push(s);
        let n = 0;
        s.on("data", (c: Buffer) => {
          n += c.length;
          s.pause();
          setTimeout(() => s.resume(), Math.ceil(c.length / 3_000));
        });
        s.on("close", () => resolve(n));
        s.on("error", reject);
      });
      expect(received).toBeGreaterThan(size);
      expect(Date.now() - started).toBeGreaterThan(2_000);
    },
    30_000,
  );

  it("when every origin connection stays busy, a miss gets 503 origin_busy after a bounded wait", async () => {
    const { t } = await h.start(
      async (req, res) => {
        if (req.url?.startsWith("/hang")) await sleep(1_500); // holds its connection
        res.writeHead(200).end("ok");
      },
      { shield: { origin: { connections: 2, queueTimeoutMs: 300 } } },
    );
    const base = await t.listen();
    agent = new Agent({ connections: 10, headersTimeout: 60_000 });
    void request(`${base}/hang/1`, { dispatcher: agent }).catch(() => {});
    void request(`${base}/hang/2`, { dispatcher: agent }).catch(() => {});
    await sleep(100);
    const started = Date.now();
    const r = await get(base, "/other");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error).toBe("origin_busy");
    expect(r.headers["retry-after"]).toBe("1");
    expect(r.cs).toMatch(/detail=origin-busy/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("a client that sends its headers too slowly is cut (slow-loris)", async () => {
    const { t } = await h.start(undefined, {
      shield: { server: { headersTimeoutMs: 500, requestTimeoutMs: 1_000 } },
    });
    const base = await t.listen();
    const { port } = new URL(base);
    const s = connect(Number(port), "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: a\r\n"));
    sockets.push(s);
    const closed = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("close", () => resolve(Buffer.concat(chunks).toString()));
      s.on("error", () => {});
    });
    expect(closed).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe("tables keyed by request input are bounded in bytes", () => {
  it("distinct long uncacheable URLs never grow the hit-for-miss table past its bound", async () => {
    const bound = 256 * 1024;
    const { t } = await h.start(
      (_req, res) => {
        res.writeHead(404, { "cache-control": "private" }).end("no");
      },
      { shield: { tables: { hitForMissBytes: bound } } },
    );
    const base = await t.listen();
    const long = "x".repeat(15_000);
    for (let i = 0; i < 60; i++) await get(base, `/${long}/${i}`);
    const metrics = await (await fetch(`${base}/__shield/metrics`)).text();
    const bytes = Number(/^shield_table_bytes\{table="hit_for_miss"\} (\d+)/m.exec(metrics)?.[1]);
    const max = Number(/^shield_table_max_bytes\{table="hit_for_miss"\} (\d+)/m.exec(metrics)?.[1]);
    expect(max).toBe(bound);
    expect(bytes).toBeGreaterThan(bound / 2);
    expect(bytes).toBeLessThanOrEqual(bound);
  });
});

describe("smaller things", () => {
  it("a repeated keyed cookie keys on every value (origins differ on which one they read)", async () => {
    const { origin, t } = await h.start(
      (req, res) => {
        // Like Django: the last of two same-named cookies wins.
        const all = [...(req.headers.cookie ?? "").matchAll(/lang=(\w+)/g)].map((m) => m[1]);
        res.writeHead(200, { "cache-control": "max-age=60" }).end(`lang ${all.at(-1)}`);
      },
      { key: { cookies: ["lang"] } },
    );
    const base = await t.listen();
    expect((await get(base, "/l", { cookie: "lang=en" })).body).toBe("lang en");
    expect((await get(base, "/l", { cookie: "lang=en; lang=fr" })).body).toBe("lang fr");
    expect(origin.count()).toBe(2);
  });

  it("a suffix range of an empty stored body gets the whole (empty) 200, not a bad 206", async () => {
    const { t } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": "0" }).end();
    });
    const base = await t.listen();
    await get(base, "/empty");
    const r = await get(base, "/empty", { range: "bytes=-5" });
    expect(r.status).toBe(200);
    expect(r.headers["content-range"]).toBeUndefined();
    expect(r.body).toBe("");
  });
});
