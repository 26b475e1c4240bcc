/**
 * A loopback origin that counts requests, for shield tests. Each test installs a handler
 * (a plain node:http handler); the origin records every request it receives (method,
 * URL, headers) so tests assert exactly what reached it. Responses carry no Date unless
 * the handler sets one (see below).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

export type OriginHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  seen: SeenRequest,
) => void | Promise<void>;

export interface TestOrigin {
  readonly url: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  /** Requests received so far. */
  count(): number;
  handle(handler: OriginHandler): void;
  close(): Promise<void>;
}

export async function startOrigin(handler?: OriginHandler): Promise<TestOrigin> {
  let current: OriginHandler =
    handler ??
    ((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "public, max-age=60" });
      res.end("ok");
    });
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    // No automatic Date: the shield under test runs on a fake clock, and a real-time Date
    // would make every response look hours old or from the future. Tests that need a
    // Date set one from the shield's clock.
    res.sendDate = false;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: SeenRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(seen);
      Promise.resolve(current(req, res, seen)).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    count: () => requests.length,
    handle(h) {
      current = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
