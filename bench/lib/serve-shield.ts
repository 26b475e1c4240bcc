/**
 * Child process: a shield from the app factory, served on 127.0.0.1 the way
 * origin-shield/main.ts serves it (`createServer({ keepAliveTimeout: 5_000 }, listener)`).
 *
 *   node --import tsx bench/lib/serve-shield.ts '<config JSON>' [silent|info] [memory]
 *
 * `info` logs every request with the CLI's logger (createLogger) into /dev/null, as the
 * CLI does by default. `memory` adds GET /__bench/memory (process.memoryUsage(), after
 * full GCs with ?gc=1 when Node runs with --expose-gc); without it the listener is served
 * unwrapped. Prints `READY <port>`; exits when stdin closes.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type CdnConfigInput, parseConfig } from "../../core/config/index.ts";
import { createShield } from "../../origin-shield/app.ts";
import { createLogger } from "../../origin-shield/observe/log.ts";
import { exitWithParent } from "./proc.ts";

const [json = "", level = "silent", extra = ""] = process.argv.slice(2);
const config = parseConfig(JSON.parse(json) as CdnConfigInput);
const logger = level === "info" ? createLogger("info", config.shield.name, "/dev/null") : undefined;
const shield = createShield({ config, logger });
const gc = (globalThis as { gc?: () => void }).gc;

const server =
  extra === "memory"
    ? createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
        if (req.url?.startsWith("/__bench/memory") === true) {
          const answer = () => {
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify(process.memoryUsage()));
          };
          if (gc === undefined || !req.url.endsWith("gc=1")) return answer();
          // Twice, a little apart: array buffers are freed after the GC that finds them.
          gc();
          setTimeout(() => {
            gc();
            answer();
          }, 50);
          return;
        }
        shield.listener(req, res);
      })
    : createServer({ keepAliveTimeout: 5_000 }, shield.listener);

server.listen(0, "127.0.0.1", 4_096, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
exitWithParent(() => server.closeAllConnections());
