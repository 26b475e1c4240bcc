/**
 * Child process: a shield from the app factory, served on 127.0.0.1 the way
 * origin-shield/main.ts serves it (createShieldServer: the `shield.server` limits; a
 * rejected promise no one handles is counted and logged, not fatal).
 *
 *   node --import tsx bench/lib/serve-shield.ts '<config JSON>' [silent|info|error] [memory]
 *
 * `info` logs every request with the CLI's logger into /dev/null, as the CLI does by
 * default; `error` logs only the shield's own failures, to stderr. `memory` adds
 *
 *   GET /__bench/memory[?gc=1]  process.memoryUsage()
 *   GET /__bench/state[?gc=1]   {"memory", "waiting": requests waiting for a connection
 *                               to each origin (by name), "flights": shared fills}
 *
 * (with gc=1, after two full GCs when Node runs with --expose-gc); without it the
 * listener is served unwrapped. Prints `READY <port>`; exits when stdin closes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type CdnConfigInput, parseConfig } from "../../core/config/index.ts";
import { createShield } from "../../origin-shield/app.ts";
import { createLogger } from "../../origin-shield/observe/log.ts";
import { createShieldServer } from "../../origin-shield/transport/server.ts";
import { exitWithParent } from "./proc.ts";

const [json = "", level = "silent", extra = ""] = process.argv.slice(2);
const config = parseConfig(JSON.parse(json) as CdnConfigInput);
const logger =
  level === "info"
    ? createLogger("info", config.shield.name, "/dev/null")
    : level === "error"
      ? createLogger("error", config.shield.name, 2)
      : undefined;
const shield = createShield({ config, logger });
const gc = (globalThis as { gc?: () => void }).gc;

process.on("unhandledRejection", (err) => {
  shield.context.metrics.internalErrors.inc();
  shield.context.log.error({ err }, "unhandled rejection");
});

const origins = config.origins.map((o) => ({ name: o.name, origin: new URL(o.url).origin }));
const state = () => ({
  memory: process.memoryUsage(),
  waiting: Object.fromEntries(
    origins.map((o) => [o.name, shield.context.origin.waiting(o.origin)]),
  ),
  flights: shield.context.collapser.flights.size,
});

/** The bench's own endpoints, answered before the shield sees the request. */
function withBenchRoutes(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? "";
  const body = url.startsWith("/__bench/memory")
    ? () => process.memoryUsage()
    : url.startsWith("/__bench/state")
      ? state
      : null;
  if (body === null) {
    shield.listener(req, res);
    return;
  }
  const answer = () => {
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body()));
  };
  if (gc === undefined || !url.endsWith("gc=1")) {
    answer();
    return;
  }
  // Twice, a little apart: array buffers are freed after the GC that finds them.
  gc();
  setTimeout(() => {
    gc();
    answer();
  }, 50);
}

const server = createShieldServer(
  extra === "memory" ? { ...shield, listener: withBenchRoutes } : shield,
);
server.listen(0, "127.0.0.1", 4_096, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
exitWithParent(() => server.closeAllConnections(), 600_000);
