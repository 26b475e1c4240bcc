/**
 * Child process: a loopback origin for the slow-clients benchmark.
 *
 *   GET /warm               200 "ok", not counted
 *   GET /__origin/stats     {"small": n, "notFound": n, "video": {"started", "finished",
 *                           "active"}, "aborted": [{"id", "ms"}: each video whose transfer
 *                           was cut, and how long it had run]}
 *   GET /video/<id>         200, <argv[2]> bytes (default 64 MiB), Cache-Control: no-store,
 *                           streamed in 256 KiB writes with backpressure; a transfer the
 *                           shield drops (its response closes before the end) is recorded
 *                           under "aborted"
 *   GET /small/<id>         after <argv[3]> ms (default 5), <argv[4]> bytes (default
 *                           1024), Cache-Control: public, max-age=600
 *   anything else           404, 10 bytes, Cache-Control: private (never shared, so the
 *                           shield marks the key hit-for-miss)
 *
 * Prints `READY <port>`; exits when stdin closes (or after 10 minutes).
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { patternBody } from "./body.ts";
import { exitWithParent } from "./proc.ts";

const VIDEO_BYTES = Number(process.argv[2] ?? 64 * 1024 * 1024);
const SMALL_DELAY_MS = Number(process.argv[3] ?? 5);
const SMALL_BYTES = Number(process.argv[4] ?? 1024);
const CHUNK = patternBody(256 * 1024, 1);
const SMALL = patternBody(SMALL_BYTES, 2);
const NOT_FOUND = Buffer.from("not found\n");

let small = 0;
let notFound = 0;
const video = { started: 0, finished: 0, active: 0 };
const aborted: { id: string; ms: number }[] = [];

function stream(res: ServerResponse, id: string): void {
  video.started++;
  video.active++;
  const t0 = performance.now();
  res.on("close", () => {
    video.active--;
    if (res.writableFinished) video.finished++;
    else aborted.push({ id, ms: Math.round(performance.now() - t0) });
  });
  res.writeHead(200, {
    "content-type": "video/mp4",
    "content-length": String(VIDEO_BYTES),
    "cache-control": "no-store",
  });
  let sent = 0;
  const more = (): void => {
    while (sent < VIDEO_BYTES) {
      if (res.destroyed) return;
      const n = Math.min(CHUNK.length, VIDEO_BYTES - sent);
      sent += n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        res.once("drain", more);
        return;
      }
    }
    res.end();
  };
  more();
}

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  if (url === "/warm") {
    res.writeHead(200, { "content-length": "2" });
    res.end("ok");
    return;
  }
  if (url === "/__origin/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ small, notFound, video, aborted }));
    return;
  }
  if (url.startsWith("/video/")) return stream(res, url.slice("/video/".length));
  if (url.startsWith("/small/")) {
    small++;
    setTimeout(() => {
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(SMALL_BYTES),
        "cache-control": "public, max-age=600",
      });
      res.end(SMALL);
    }, SMALL_DELAY_MS);
    return;
  }
  notFound++;
  res.writeHead(404, {
    "content-type": "text/plain",
    "content-length": String(NOT_FOUND.length),
    "cache-control": "private",
  });
  res.end(NOT_FOUND);
});
server.keepAliveTimeout = 15_000;
server.listen(0, "127.0.0.1", 4_096, () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
exitWithParent(() => server.closeAllConnections(), 600_000);
