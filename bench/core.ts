/**
 * Core decision throughput: for a typical browser request, parse the request's and the
 * stored response's fields, normalise the URL, build the cache key and decide — the work the core adds to
 * every hit on the edge and the shield. Printed beside a baseline measured in the same
 * run: copying the same request headers into a `new Headers()`, the least any proxy does.
 *
 *   npm run bench            (one core; about 10 s)
 *
 * Target: at least 500,000 decisions per second.
 */
import { parseConfig } from "../core/config/index.ts";
import { buildCacheKey, normaliseUrl } from "../core/key/index.ts";
import { decide, planStorage, policyOptions } from "../core/policy/index.ts";

const T0 = Date.UTC(2026, 0, 1);
const config = parseConfig({
  origins: [{ name: "www", url: "http://127.0.0.1:9000", hosts: ["www.example.com"] }],
});
const options = policyOptions(config);

const requestHeaders: [string, string][] = [
  ["host", "www.example.com"],
  [
    "user-agent",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
  ],
  [
    "accept",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  ],
  ["accept-encoding", "gzip, deflate, br, zstd"],
  ["accept-language", "en-GB,en;q=0.9,fr;q=0.8"],
  ["cache-control", "max-age=0"],
  ["cookie", "session=abc123; theme=dark; _ga=GA1.2.3.4"],
  ["sec-fetch-dest", "document"],
  ["sec-fetch-mode", "navigate"],
  ["sec-fetch-site", "none"],
  ["upgrade-insecure-requests", "1"],
  ["referer", "https://www.example.com/"],
];
const url = "https://www.example.com/products/shoes?size=42&utm_source=news&color=red&fbclid=xyz";

// One stored entry, as the shield holds it in memory.
const entry = (() => {
  const plan = planStorage({
    request: { method: "GET", headers: new Headers(requestHeaders) },
    response: {
      status: 200,
      headers: new Headers({
        date: new Date(T0).toUTCString(),
        "content-type": "text/html; charset=utf-8",
        "content-length": "18342",
        "cache-control": "public, max-age=300, stale-while-revalidate=60",
        "cdn-cache-control": "max-age=3600",
        etag: '"5f2a-1b3c"',
        "last-modified": "Mon, 01 Dec 2025 10:00:00 GMT",
        vary: "Accept-Encoding",
        "surrogate-key": "products shoes",
        server: "origin",
      }),
    },
    requestTime: T0,
    responseTime: T0,
    options,
  });
  if (!plan.store) throw new Error(`bench entry not stored: ${plan.reason}`);
  return plan.meta;
})();

let sink = 0;

// The runtime hands the cache a parsed Headers object (workerd's, or Hono's on Node);
// everything the core reads from it is parsed anew on every call below.
const headers = new Headers(requestHeaders);
const request = { method: "GET", headers };

function decision(i: number): void {
  const normalised = normaliseUrl(url, config.key);
  const key = buildCacheKey({ url: normalised, headers }, config.key);
  const d = decide(request, entry, T0 + 1000 + (i & 1023), options);
  sink += key.length + d.kind.length;
}

// The shield can read Node's own header object (IncomingMessage.headers: lowercase keys)
// instead of building a web Headers: the same decision through that reader.
const nodeHeaders: Record<string, string> = Object.fromEntries(requestHeaders);
const nodeReader = { get: (name: string): string | null => nodeHeaders[name] ?? null };
const nodeRequest = { method: "GET", headers: nodeReader };

function decisionNodeHeaders(i: number): void {
  const normalised = normaliseUrl(url, config.key);
  const key = buildCacheKey({ url: normalised, headers: nodeReader }, config.key);
  const d = decide(nodeRequest, entry, T0 + 1000 + (i & 1023), options);
  sink += key.length + d.kind.length;
}

function baseline(): void {
  const headers = new Headers(requestHeaders);
  sink += headers.has("host") ? 1 : 0;
}

function measure(fn: (i: number) => void, ms: number): number {
  const deadline = performance.now() + ms;
  let n = 0;
  const start = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) fn(n + i);
    n += 1000;
  }
  return n / ((performance.now() - start) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// Warm up both paths so the JIT has compiled them before anything is measured.
measure(decision, 1000);
measure(decisionNodeHeaders, 1000);
measure(baseline, 1000);

const rounds = 5;
const decisions: number[] = [];
const nodeDecisions: number[] = [];
const copies: number[] = [];
for (let r = 0; r < rounds; r++) {
  // Interleave so that machine noise hits all alike.
  decisions.push(measure(decision, 800));
  nodeDecisions.push(measure(decisionNodeHeaders, 800));
  copies.push(measure(baseline, 800));
}

const d = median(decisions);
const n = median(nodeDecisions);
const b = median(copies);
const fmt = (x: number): string => Math.round(x).toLocaleString("en-US").padStart(12);
const row = (what: string, x: number): string =>
  `| ${what.padEnd(52)} |${fmt(x)} | ${(1e6 / x).toFixed(2).padStart(6)} |`;
console.log(
  `core decision benchmark (median of ${rounds} rounds, one core, Node ${process.version})`,
);
console.log("");
console.log(`| ${"what".padEnd(52)} |      ops/s |  µs/op |`);
console.log(`|${"-".repeat(54)}|------------|--------|`);
console.log(row("baseline: new Headers() copy of the request headers", b));
console.log(row("decision: parse + normalise + key + decide", d));
console.log(row("same, reading Node's IncomingMessage-style headers", n));
console.log("");
console.log(`a decision costs ${(d === 0 ? 0 : b / d).toFixed(2)}× a bare header copy`);
console.log(`target ≥ 500,000 decisions/s: ${d >= 500_000 ? "met" : "NOT met"} (web Headers)`);
if (sink === -1) console.log("");
