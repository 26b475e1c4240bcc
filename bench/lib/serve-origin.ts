/**
 * Child process: a loopback origin for the shield benchmarks that counts requests.
 *
 *   GET /warm                        200 "ok", not counted
 *   GET /__origin/stats              {"requests": n, "sent": [sha256 of each stampede body]}
 *   GET /stampede/<delay ms>/<id>    after the delay, a fresh random body (size: argv[2],
 *                                    default 10240), Cache-Control: public, max-age=60
 *   GET /obj/<size>/<id>             at once, <size> bytes, Cache-Control: public, max-age=3600
 *
 * Prints `READY <port>`; exits when stdin closes.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { patternBody } from "./body.ts";
import { exitWithParent } from "./proc.ts";

const stampedeBytes = Number(process.argv[2] ?? 10_240);
let requests = 0;
const sent: string[] = [];
const bodies = new Map<number, Buffer>();

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  if (url === "/warm") {
    res.writeHead(200, { "content-length": "2" });
    res.end("ok");
    return;
  }
  if (url === "/__origin/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ requests, sent }));
    return;
  }
  requests++;
  const stampede = /^\/stampede\/(\d+)\//.exec(url);
  if (stampede !== null) {
    setTimeout(() => {
      const body = randomBytes(stampedeBytes);
      sent.push(createHash("sha256").update(body).digest("hex"));
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(body.length),
        "cache-control": "public, max-age=60",
      });
      res.end(body);
    }, Number(stampede[1]));
    return;
  }
  const obj = /^\/obj\/(\d+)\//.exec(url);
  if (obj !== null) {
    const size = Number(obj[1]);
    let body = bodies.get(size);
    if (body === undefined) {
      body = patternBody(size);
      bodies.set(size, body);
    }
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(size),
      "cache-control": "public, max-age=3600",
      "last-modified": "Thu, 01 Jan 2026 00:00:00 GMT",
    });
    res.end(body);
    return;
  }
  res.writeHead(404, { "content-length": "0" });
  res.end();
});
server.keepAliveTimeout = 15_000;
server.listen(0, "127.0.0.1", 4_096, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
exitWithParent(() => server.closeAllConnections());
