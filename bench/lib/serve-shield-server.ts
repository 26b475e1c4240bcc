/**
 * Child process: a shield served exactly as `npm run shield` serves it (origin-shield/
 * main.ts): the app factory's listener on `createShieldServer` (the `shield.server`
 * limits: header and request timeouts, keep-alive, max connections), internal errors
 * logged to stderr and unhandled rejections counted in shield_internal_errors_total, not
 * fatal. One extra route, answered before the shield sees the request:
 *
 *   GET /__bench/state[?gc=1]   {"memory": process.memoryUsage(), "waiting": requests
 *                               waiting for a connection to each origin (by name),
 *                               "flights": shared fills in flight}; with gc=1, after two
 *                               full GCs when Node runs with --expose-gc
 *
 *   node dist/bench/lib/serve-shield-server.mjs '<config JSON>'
 *
 * Prints `READY <port>`; exits when stdin closes (or after 10 minutes).
 */
import type { AddressInfo } from "node:net";
import { type CdnConfigInput, parseConfig } from "../../core/config/index.ts";
import { createShield } from "../../origin-shield/app.ts";
import { createLogger } from "../../origin-shield/observe/log.ts";
import { createShieldServer } from "../../origin-shield/transport/server.ts";
import { exitWithParent } from "./proc.ts";

const config = parseConfig(JSON.parse(process.argv[2] ?? "") as CdnConfigInput);
// Only the shield's own failures are logged at error level; stdout carries READY.
const log = createLogger("error", config.shield.name, 2);
const shield = createShield({ config, logger: log });
const gc = (globalThis as { gc?: () => void }).gc;

process.on("unhandledRejection", (err) => {
  shield.context.metrics.internalErrors.inc();
  log.error({ err }, "unhandled rejection");
});

const origins = config.origins.map((o) => ({ name: o.name, origin: new URL(o.url).origin }));
const state = () =>
  JSON.stringify({
    memory: process.memoryUsage(),
    waiting: Object.fromEntries(
      origins.map((o) => [o.name, shield.context.origin.waiting(o.origin)]),
    ),
    flights: shield.context.flights.size,
  });

const server = createShieldServer({
  ...shield,
  listener: (req, res) => {
    if (req.url?.startsWith("/__bench/state") !== true) return shield.listener(req, res);
    const answer = () => {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(state());
    };
    if (gc === undefined || !req.url.endsWith("gc=1")) return answer();
    // Twice, a little apart: array buffers are freed after the GC that finds them.
    gc();
    setTimeout(() => {
      gc();
      answer();
    }, 50);
  },
});

server.listen(0, "127.0.0.1", 4_096, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
exitWithParent(() => server.closeAllConnections(), 600_000);
