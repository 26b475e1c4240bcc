/**
 * What an origin can make the shield do: hostile Vary names, bodies cut by a reset, a
 * failing origin under a herd. Each costs at most the request it belongs to; nothing
 * broken is stored; the process keeps serving.
 */
import type { Socket } from "node:net";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  type HostileOrigin,
  head,
  startHostileOrigin,
  trickle,
} from "../helpers/hostile-origin.ts";
import { sleep } from "../helpers/origin.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";
import { harness } from "./support.ts";

const h = harness();
let raw: HostileOrigin | undefined;
let t: TestShield | undefined;
let agent: Agent | undefined;

afterEach(async () => {
  await agent?.close();
  await t?.close();
  await raw?.close();
  agent = undefined;
  t = undefined;
  raw = undefined;
});

interface Got {
  readonly status: number;
  readonly cs: string;
  readonly body: string;
  /** The transfer completed (false: the connection was cut mid-body). */
  readonly whole: boolean;
}

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  agent ??= new Agent({ connections: 200 });
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(`${base}${path}`, { dispatcher: agent, headers });
  } catch {
    return { status: 0, cs: "", body: "", whole: false } as Got;
  }
  const cs = String(res.headers["cache-status"] ?? "");
  try {
    return { status: res.statusCode, cs, body: await res.body.text(), whole: true } as Got;
  } catch {
    return { status: res.statusCode, cs, body: "", whole: false } as Got;
  }
}

async function shieldFor(script: Parameters<typeof startHostileOrigin>[0]): Promise<string> {
  raw = await startHostileOrigin(script);
  t = testShield(raw.url, {}, { realClock: true });
  return t.listen();
}

describe("hostile Vary field names", () => {
  // Names as a request carries them (lowercase), each also a property of every object.
  it.each(["constructor", "__proto__", "tostring", "hasownproperty", "valueof"])(
    "Vary: %s neither crashes the shield nor confuses two requests",
    async (name) => {
      const base = await shieldFor((socket, req) => {
        const body = `for ${req.headers[name] ?? "nobody"}`;
        socket.write(
          head("200 OK", {
            "Content-Length": String(body.length),
            "Cache-Control": "max-age=60",
            Vary: name,
          }),
        );
        socket.write(body);
      });
      const first = await get(base, "/v");
      expect(first.body).toBe("for nobody");
      expect(first.cs).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
      const again = await get(base, "/v");
      expect(again.cs).toMatch(/^shield; hit/);
      // Node's own parser drops a request field named __proto__; every other one is seen.
      if (name !== "__proto__") {
        const other = await get(base, "/v", { [name]: "someone" });
        expect(other.body).toBe("for someone");
        expect(other.cs).not.toMatch(/hit/);
      }
      expect((await fetch(`${base}/__shield/health`)).status).toBe(200);
    },
  );
});

describe("bodies that are not provably complete are never stored", () => {
  /** A response with neither Content-Length nor chunked framing: it ends when the connection does. */
  function closeDelimited(end: (socket: Socket) => void) {
    return (socket: Socket) => {
      socket.write(head("200 OK", { "Cache-Control": "max-age=60", Connection: "close" }));
      socket.write("part one, ");
      setTimeout(() => {
        socket.write("part two");
        setTimeout(() => end(socket), 30);
      }, 30);
    };
  }

  it("a close-delimited body cut by a TCP reset: the client sees the cut, nothing is stored", async () => {
    const base = await shieldFor(closeDelimited((s) => s.resetAndDestroy()));
    for (let i = 0; i < 2; i++) {
      const r = await get(base, "/cut");
      expect(r.whole).toBe(false);
      expect(r.cs).not.toMatch(/hit/);
    }
    expect(raw?.count()).toBe(2);
  });

  it("a close-delimited body ended by a clean close is complete, stored and served whole", async () => {
    const base = await shieldFor(closeDelimited((s) => s.end()));
    const first = await get(base, "/whole");
    expect(first).toMatchObject({ whole: true, body: "part one, part two" });
    await t?.shield.drain();
    const again = await get(base, "/whole");
    expect(again.cs).toMatch(/^shield; hit/);
    expect(again.body).toBe("part one, part two");
    expect(raw?.count()).toBe(1);
  });

  it("a body that trickles, then stalls past shield.origin.bodyTimeoutMs, is cut and not stored", async () => {
    raw = await startHostileOrigin(async (socket) => {
      socket.write(head("200 OK", { "Cache-Control": "max-age=60", Connection: "close" }));
      await trickle(socket, Buffer.from("slow and then nothing"), 4, 50);
      // …and then silence, the connection left open.
    });
    t = testShield(raw.url, { shield: { origin: { bodyTimeoutMs: 400 } } }, { realClock: true });
    const base = await t.listen();
    const started = Date.now();
    const r = await get(base, "/stall");
    expect(r.whole).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await get(base, "/stall")).cs).not.toMatch(/hit/);
    expect(raw.count()).toBe(2);
  });

  it("a chunked body cut before its last chunk is not stored", async () => {
    const base = await shieldFor((socket) => {
      socket.write(
        head("200 OK", { "Cache-Control": "max-age=60", "Transfer-Encoding": "chunked" }),
      );
      socket.write("5\r\nhello\r\n");
      setTimeout(() => socket.resetAndDestroy(), 30);
    });
    const r = await get(base, "/chunked");
    expect(r.whole).toBe(false);
    expect((await get(base, "/chunked")).cs).not.toMatch(/hit/);
  });
});

describe("a failing origin is not amplified", () => {
  it("100 concurrent requests while the origin answers 503 cost one origin fetch", async () => {
    const { origin, t: shield } = await h.start(async (_req, res) => {
      await sleep(300);
      res.writeHead(503, { "content-type": "text/plain", "retry-after": "5" });
      res.end("overloaded");
    });
    const base = await shield.listen();
    const burst = await Promise.all(Array.from({ length: 100 }, () => get(base, "/hot")));
    expect(burst.every((r) => r.status === 503 && r.body === "overloaded")).toBe(true);
    expect(burst.filter((r) => /; collapsed/.test(r.cs))).toHaveLength(99);
    expect(origin.count()).toBe(1);
    // The next burst collapses again (no hit-for-miss sends each one to the origin).
    await Promise.all(Array.from({ length: 50 }, () => get(base, "/hot")));
    expect(origin.count()).toBe(2);
  });

  it("a 429 is shared with the requests waiting on it, but not stored", async () => {
    const { origin, t: shield } = await h.start(async (_req, res) => {
      await sleep(200);
      res.writeHead(429, { "retry-after": "1" }).end("slow down");
    });
    const base = await shield.listen();
    const burst = await Promise.all(Array.from({ length: 20 }, () => get(base, "/api")));
    expect(burst.every((r) => r.status === 429)).toBe(true);
    expect(origin.count()).toBe(1);
    await get(base, "/api");
    expect(origin.count()).toBe(2);
  });

  it("an error with a private marker is not shared: each waiting request fetches its own", async () => {
    const { origin, t: shield } = await h.start(async (_req, res) => {
      await sleep(200);
      res.writeHead(500, { "set-cookie": "session=x" }).end("error for one user");
    });
    const base = await shield.listen();
    const burst = await Promise.all(Array.from({ length: 5 }, () => get(base, "/mine")));
    expect(burst.every((r) => r.status === 500)).toBe(true);
    expect(burst.some((r) => /; collapsed/.test(r.cs))).toBe(false);
    expect(origin.count()).toBe(5);
  });
});

describe("a throw at any step of a fill fails that fill alone", () => {
  type Ctx = TestShield["shield"]["context"];
  const boom = () => {
    throw new TypeError("injected");
  };
  const steps: [string, (ctx: Ctx) => () => void][] = [
    [
      "sending the request",
      (ctx) => {
        const real = ctx.origin.request.bind(ctx.origin);
        ctx.origin.request = boom;
        return () => {
          ctx.origin.request = real;
        };
      },
    ],
    [
      "timing the origin's answer",
      (ctx) => {
        const real = ctx.metrics.originLatency.labels.bind(ctx.metrics.originLatency);
        ctx.metrics.originLatency.labels = boom;
        return () => {
          ctx.metrics.originLatency.labels = real;
        };
      },
    ],
    [
      "deciding whether to store",
      (ctx) => {
        const hitForMiss = ctx.collapser.hitForMiss;
        const real = hitForMiss.clear.bind(hitForMiss);
        hitForMiss.clear = boom;
        return () => {
          hitForMiss.clear = real;
        };
      },
    ],
    [
      "reading the body",
      (ctx) => {
        const real = ctx.origin.request.bind(ctx.origin);
        ctx.origin.request = async (req) => {
          const res = await real(req);
          return {
            ...res,
            body: (async function* () {
              yield Buffer.from("half");
              boom();
            })(),
          };
        };
        return () => {
          ctx.origin.request = real;
        };
      },
    ],
    [
      "storing the object",
      (ctx) => {
        const real = ctx.tier.put.bind(ctx.tier);
        ctx.tier.put = boom;
        return () => {
          ctx.tier.put = real;
        };
      },
    ],
  ];

  it.each(steps)("%s: the client gets an error, the node keeps serving", async (_step, inject) => {
    const { origin, t: shield } = await h.start((_req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60", "content-length": "8" });
      res.end("the body");
    });
    const base = await shield.listen();
    const restore = inject(shield.shield.context);
    const failed = await get(base, "/step");
    // An error (500 before the head, a cut transfer after it), or, when storing failed
    // after the whole body was sent, that body; never a wrong one.
    if (failed.whole && failed.status === 200) expect(failed.body).toBe("the body");
    else if (failed.whole) expect(JSON.parse(failed.body).error).toBe("internal_error");
    restore();
    await shield.shield.drain();
    const ok = await get(base, "/step");
    expect(ok).toMatchObject({ status: 200, body: "the body", whole: true });
    expect((await get(base, "/step")).cs).toMatch(/^shield; hit/);
    const metrics = await (await fetch(`${base}/__shield/metrics`)).text();
    expect(metrics).toMatch(/^shield_internal_errors_total [1-9]/m);
    expect(origin.count()).toBeGreaterThanOrEqual(1);
  });

  it("a revalidation whose refresh throws fails alone, and the stale copy is still there", async () => {
    const { t: shield } = await h.start((req, res) => {
      if (req.headers["if-none-match"] === '"a"') return void res.writeHead(304).end();
      res.writeHead(200, { "cache-control": "max-age=1", etag: '"a"', "content-length": "1" });
      res.end("a");
    });
    const base = await shield.listen();
    await get(base, "/r");
    await shield.shield.drain();
    shield.advance(5_000);
    const ctx = shield.shield.context;
    const real = ctx.tier.replace.bind(ctx.tier);
    ctx.tier.replace = () => {
      throw new TypeError("injected");
    };
    const failed = await get(base, "/r");
    expect(failed.status).toBe(500);
    ctx.tier.replace = real;
    const ok = await get(base, "/r");
    expect(ok).toMatchObject({ status: 200, body: "a" });
    expect(ok.cs).toMatch(/^shield; fwd=stale; fwd-status=304/);
  });
});
