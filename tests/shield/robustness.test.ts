/**
 * A misbehaving origin must cost one request a 502, never the shield process.
 */
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type TestShield, testShield } from "../helpers/shield.ts";

let raw: Server | undefined;
let t: TestShield | undefined;

afterEach(async () => {
  await t?.close();
  await new Promise<void>((r) => (raw ? raw.close(() => r()) : r()));
  raw = undefined;
});

/** An origin that writes `head` verbatim, then closes. */
async function rawOrigin(head: string): Promise<string> {
  raw = createServer((socket) => {
    socket.once("data", () => {
      socket.end(head);
    });
  });
  await new Promise<void>((r) => raw?.listen(0, "127.0.0.1", r));
  const address = raw.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

describe("a misbehaving origin", () => {
  it.each([
    [
      "a control character in a header value",
      "HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\nContent-Length: 2\r\n\r\nok",
    ],
    ["a malformed status line", "HTTP/1.1 OK\r\n\r\n"],
    [
      "a body shorter than its Content-Length",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nCache-Control: max-age=60\r\n\r\nabc",
    ],
  ])(
    "with %s gets the client a 502 (or a cut transfer) and the shield keeps serving",
    async (_n, head) => {
      const url = await rawOrigin(head);
      t = testShield(url, {}, { realClock: true });
      const base = await t.listen();
      const attempt = async () => {
        try {
          const r = await fetch(`${base}/x`);
          try {
            await r.text();
            return { status: r.status, whole: true, cacheStatus: r.headers.get("cache-status") };
          } catch {
            return { status: r.status, whole: false, cacheStatus: r.headers.get("cache-status") };
          }
        } catch {
          return { status: 0, whole: false, cacheStatus: null };
        }
      };
      // Either a clean 502 or a transfer the client sees fail; never a 200 that looks whole.
      for (let i = 0; i < 2; i++) {
        const r = await attempt();
        expect(r.status === 502 || !r.whole, JSON.stringify(r)).toBe(true);
        // Nothing broken was stored: the second attempt is not a hit.
        expect(r.cacheStatus ?? "").not.toMatch(/; hit/);
      }
      const health = await fetch(`${base}/__shield/health`);
      expect(health.status).toBe(200);
    },
  );
});
