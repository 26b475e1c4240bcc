/**
 * The node:http server a shield listens with (main.ts, and tests over real sockets), with
 * what clients may hold bounded by `shield.server`: time to send headers (slow-loris) and
 * a whole request, idle keep-alive time, and connections at once. How long a client may
 * stop reading a response is enforced where responses are written (node.ts).
 */
import { createServer, type Server } from "node:http";
import type { Shield } from "../app.ts";

export function createShieldServer(shield: Shield): Server {
  const limits = shield.context.config.shield.server;
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    shield.listener,
  );
  server.maxConnections = limits.maxConnections;
  return server;
}
