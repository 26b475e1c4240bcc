/**
 * Child process: one autocannon run, for machines without wrk (bench/lib/wrk.ts starts
 * it pinned to the load generator's core). Every response head is checked as wrk's Lua
 * hook checks it (status, Content-Length, Cache-Status, Content-Type); the body length
 * is checked by autocannon against Content-Length. Prints `RESULT <json>` and exits 0,
 * or fails (exit 1) on any wrong answer or socket error.
 *
 *   node bench/lib/cannon.ts '<PinnedLoadOptions JSON>'
 */
import { load, rawHeader } from "./load.ts";
import type { PinnedLoadOptions } from "./wrk.ts";

const o = JSON.parse(process.argv[2] ?? "{}") as PinnedLoadOptions;
const e = o.expect;
const r = await load({
  url: o.url,
  seconds: o.seconds,
  connections: o.connections,
  pid: process.pid,
  headers: o.headers,
  check: (status, headers) => {
    if (status !== e.status) return `status ${status}`;
    if (rawHeader(headers, "content-length") !== String(e.length)) return "content-length";
    const cs = rawHeader(headers, "cache-status") ?? "";
    if (e.cacheStatus !== null && !cs.includes(e.cacheStatus)) return `cache-status ${cs}`;
    const ct = rawHeader(headers, "content-type");
    if (e.contentType != null && ct !== e.contentType) return `content-type ${ct}`;
    return null;
  },
});
process.stdout.write(
  `RESULT ${JSON.stringify({ rps: r.rps, p50: r.p50, p99: r.p99, responses: r.responses })}\n`,
);
process.exit(0);
