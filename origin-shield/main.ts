/**
 * `npm run shield`: one shield node listening on a socket. SIGTERM/SIGINT stop accepting,
 * let in-flight requests finish (and idle keep-alive connections close), then exit;
 * whatever is still running after 10 s is cut.
 */
import { ConfigError } from "../core/config/index.ts";
import { createShield } from "./app.ts";
import { CliError, HELP, parseCli } from "./cli.ts";
import { createLogger } from "./observe/log.ts";
import { createShieldServer } from "./transport/server.ts";

const DRAIN_MS = 10_000;

function fail(message: string): never {
  process.stderr.write(`shield: ${message}\n`);
  process.exit(2);
}

let options: ReturnType<typeof parseCli>;
try {
  options = parseCli(process.argv.slice(2), process.env);
} catch (err) {
  if (err instanceof CliError || err instanceof ConfigError) fail(err.message);
  throw err;
}
if (options === "help") {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const { config, port, host, logLevel } = options;
const log = createLogger(logLevel, config.shield.name);
const shield = createShield({
  config,
  logger: log,
  cloudflareToken: process.env.CLOUDFLARE_API_TOKEN || undefined,
});
const server = createShieldServer(shield);

// A promise that rejects with no one to handle it is a bug; it must cost the request it
// belonged to, not every client of this node (Node's default is to exit).
process.on("unhandledRejection", (err) => {
  shield.context.metrics.internalErrors.inc();
  log.error({ err }, "unhandled rejection");
});

server.on("error", (err) => fail(`cannot listen on ${host}:${port}: ${err.message}`));
server.listen(port, host, () => {
  const address = server.address();
  const actual = typeof address === "object" && address !== null ? address.port : port;
  const shown = host.includes(":") ? `[${host}]` : host;
  process.stdout.write(
    `shield "${config.shield.name}" listening on http://${shown}:${actual} → ${config.origins
      .map((o) => `${o.name} ${o.url}`)
      .join(", ")}\n`,
  );
});

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down: draining in-flight requests");
  const deadline = setTimeout(() => {
    log.warn("drain deadline passed: closing remaining connections");
    server.closeAllConnections();
    process.exit(1);
  }, DRAIN_MS);
  deadline.unref();
  // Keep-alive connections that finish their request are closed rather than reused.
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  idle.unref();
  server.close(() => {
    void shield
      .drain()
      .then(() => shield.close())
      .finally(() => {
        log.info("stopped");
        process.exit(0);
      });
  });
  server.closeIdleConnections();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
