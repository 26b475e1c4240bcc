/**
 * Interim responses (RFC 9110 §15.2): a 103 Early Hints (RFC 8297) or 102 Processing the
 * origin sends before its final response reaches the client whose request started the
 * fetch, over the node:http transport, and nobody else: not a collapsed follower, not a
 * later hit. A flood of them is bounded. The origin is a raw socket server, so the test
 * controls every byte it writes.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type TestShield, testShield } from "../helpers/shield.ts";
import { until } from "./support.ts";

interface RawOrigin {
  readonly url: string;
  /** Request heads received, in order. */
  readonly heads: string[];
  close(): Promise<void>;
}

/** An origin that hands each request's socket and head to `onRequest`. */
async function rawOrigin(
  onRequest: (socket: Socket, head: string, index: number) => void | Promise<void>,
): Promise<RawOrigin> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      let end = buffered.indexOf("\r\n\r\n");
      while (end >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        heads.push(head);
        void onRequest(socket, head, heads.length - 1);
        end = buffered.indexOf("\r\n\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const HINT = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\r\n";

function final(body: string, extra = ""): string {
  return (
    "HTTP/1.1 200 OK\r\ncache-control: public, max-age=60\r\ncontent-type: text/plain\r\n" +
    `${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

interface Seen {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Interim responses received before the final one. */
  interim: { status: number; headers: Record<string, string | string[] | undefined> }[];
}

/** A GET over a fresh connection that records every interim response it receives. */
function get(
  base: string,
  path: string,
  options: { headers?: Record<string, string>; method?: string; onInterim?: () => void } = {},
): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const interim: Seen["interim"] = [];
    const req = httpRequest(
      `${base}${path}`,
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            interim,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("information", (info) => {
      interim.push({ status: info.statusCode, headers: info.headers });
      options.onInterim?.();
    });
    req.on("error", reject);
    req.end();
  });
}

/** Waits until a request has joined another's fill as a follower (the shield's counter). */
async function followerJoined(): Promise<void> {
  const counter = t?.shield.context.metrics.collapsed;
  for (let i = 0; i < 400; i++) {
    const value = (await counter?.get())?.values[0]?.value ?? 0;
    if (value >= 1) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("no follower joined the fill");
}

let origin: RawOrigin | undefined;
let t: TestShield | undefined;

afterEach(async () => {
  await t?.close();
  await origin?.close();
  t = undefined;
  origin = undefined;
});

async function start(
  onRequest: Parameters<typeof rawOrigin>[0],
  overrides: Parameters<typeof testShield>[1] = {},
): Promise<string> {
  origin = await rawOrigin(onRequest);
  t = testShield(origin.url, overrides, { realClock: true });
  return t.listen();
}

describe("103 Early Hints and 102 Processing from the origin (RFC 9110 §15.2, RFC 8297)", () => {
  it("a miss relays the origin's 103 with its Link field before the final 200; the hit that follows gets no 103 (never stored)", async () => {
    const base = await start((socket) => {
      socket.write(HINT);
      setImmediate(() => socket.write(final("hello")));
    });
    const miss = await get(base, "/page");
    expect(miss.status).toBe(200);
    expect(miss.body).toBe("hello");
    expect(miss.interim).toHaveLength(1);
    expect(miss.interim[0]?.status).toBe(103);
    expect(miss.interim[0]?.headers.link).toBe("</a.css>; rel=preload; as=style");
    await t?.shield.drain();

    const hit = await get(base, "/page");
    expect(hit.status).toBe(200);
    expect(hit.body).toBe("hello");
    expect(hit.headers["cache-status"]).toMatch(/^shield; hit/);
    expect(hit.interim).toEqual([]);
    expect(origin?.heads).toHaveLength(1);
  });

  it("relays a 102 Processing and several Link fields of one 103", async () => {
    const base = await start((socket) => {
      socket.write("HTTP/1.1 102 Processing\r\n\r\n");
      socket.write(
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n" +
          "Link: </b.js>; rel=preload; as=script\r\n\r\n",
      );
      setImmediate(() => socket.write(final("ok")));
    });
    const res = await get(base, "/two");
    expect(res.status).toBe(200);
    expect(res.interim.map((i) => i.status)).toEqual([102, 103]);
    // Node writes the two field lines as one list (RFC 9110 §5.3: the same field).
    expect(res.interim[1]?.headers.link).toBe(
      "</a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script",
    );
  });

  it("relays Link only: a cookie or private field on a 103 goes no further than the shield", async () => {
    const base = await start((socket) => {
      socket.write(
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n" +
          "Set-Cookie: session=secret\r\nX-Internal: 10.0.0.7\r\n\r\n",
      );
      setImmediate(() => socket.write(final("ok")));
    });
    const res = await get(base, "/cookie");
    expect(res.interim).toHaveLength(1);
    expect(res.interim[0]?.headers.link).toBe("</a.css>; rel=preload");
    expect(res.interim[0]?.headers["set-cookie"]).toBeUndefined();
    expect(res.interim[0]?.headers["x-internal"]).toBeUndefined();
  });

  it("a collapsed follower gets no 103: hints of the leader's request (its own values in the Link) stay with the leader", async () => {
    let release: (() => void) | undefined;
    const base = await start((socket, head) => {
      const user = /x-user: (\w+)/i.exec(head)?.[1] ?? "none";
      socket.write(`HTTP/1.1 103 Early Hints\r\nLink: </u/${user}.css>; rel=preload\r\n\r\n`);
      release = () => socket.write(final("shared"));
    });
    let leaderHinted = false;
    const leader = get(base, "/herd", {
      headers: { "x-user": "alice" },
      onInterim: () => {
        leaderHinted = true;
      },
    });
    await until(() => leaderHinted, "the leader's 103");
    const follower = get(base, "/herd", { headers: { "x-user": "bob" } });
    await followerJoined();
    release?.();
    const [l, f] = await Promise.all([leader, follower]);
    expect(l.interim.map((i) => i.headers.link)).toEqual(["</u/alice.css>; rel=preload"]);
    expect(f.status).toBe(200);
    expect(f.body).toBe("shared");
    expect(f.headers["cache-status"]).toMatch(/collapsed/);
    expect(f.interim).toEqual([]);
    expect(origin?.heads).toHaveLength(1);
  });

  it("a revalidation's 103 reaches the client it revalidates for, before the stored 200 a 304 refreshed", async () => {
    const base = await start((socket, _head, index) => {
      if (index === 0) {
        socket.write(
          'HTTP/1.1 200 OK\r\ncache-control: no-cache\r\netag: "v1"\r\ncontent-length: 6\r\n\r\nstored',
        );
        return;
      }
      socket.write(HINT);
      setImmediate(() =>
        socket.write('HTTP/1.1 304 Not Modified\r\ncache-control: no-cache\r\netag: "v1"\r\n\r\n'),
      );
    });
    const first = await get(base, "/reval");
    expect(first.interim).toEqual([]);
    await t?.shield.drain();
    const second = await get(base, "/reval");
    expect(second.status).toBe(200);
    expect(second.body).toBe("stored");
    expect(second.headers["cache-status"]).toMatch(/fwd=stale; fwd-status=304/);
    expect(second.interim.map((i) => i.status)).toEqual([103]);
    expect(origin?.heads[1]).toMatch(/if-none-match: "v1"/i);
  });

  it("a request passed through (POST) gets the origin's 103 too", async () => {
    const base = await start((socket) => {
      socket.write(HINT);
      setImmediate(() =>
        socket.write(
          "HTTP/1.1 201 Created\r\ncontent-length: 2\r\ncache-control: no-store\r\n\r\nok",
        ),
      );
    });
    const res = await get(base, "/form", { method: "POST" });
    expect(res.status).toBe(201);
    expect(res.interim.map((i) => i.status)).toEqual([103]);
  });

  it("a flood of 50 interim responses: at most 10 reach the client, then the final response", async () => {
    const base = await start((socket) => {
      socket.write(HINT.repeat(50));
      setImmediate(() => socket.write(final("after the flood")));
    });
    const res = await get(base, "/flood");
    expect(res.status).toBe(200);
    expect(res.body).toBe("after the flood");
    expect(res.interim).toHaveLength(10);
  });

  it("an origin that never stops sending 1xx is cut after 100 of them: 502, nothing stored", async () => {
    const base = await start((socket) => {
      // 5,000 interim responses and no final one.
      socket.write(HINT.repeat(5_000));
    });
    const res = await get(base, "/endless");
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: "bad_origin_response" });
    expect(res.interim.length).toBeLessThanOrEqual(10);
  });

  it("an origin trickling 103s without a final response is cut one header timeout after the first: 504", async () => {
    const timers: NodeJS.Timeout[] = [];
    const base = await start(
      (socket) => {
        const tick = () => {
          if (socket.destroyed) return;
          socket.write(HINT);
          timers.push(setTimeout(tick, 50));
        };
        tick();
      },
      { shield: { origin: { headersTimeoutMs: 300 } } },
    );
    try {
      const res = await get(base, "/trickle");
      expect(res.status).toBe(504);
      expect(JSON.parse(res.body)).toMatchObject({ error: "origin_timeout" });
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
  });

  it("an HTTP/1.0 client is sent no interim response (RFC 9110 §15.2)", async () => {
    const base = await start((socket) => {
      socket.write(HINT);
      setImmediate(() => socket.write(final("old")));
    });
    const { port } = new URL(base);
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), "127.0.0.1", () => {
        s.write("GET /old HTTP/1.0\r\nHost: example.com\r\n\r\n");
      });
      let text = "";
      s.on("data", (c: Buffer) => {
        text += c.toString("latin1");
      });
      s.on("end", () => resolve(text));
      s.on("error", reject);
    });
    expect(raw.startsWith("HTTP/1.1 200")).toBe(true);
    expect(raw).not.toContain("103");
    expect(raw.endsWith("old")).toBe(true);
  });
});
