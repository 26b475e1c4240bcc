/**
 * A cached image variant against a plain cached object of the same byte size: server
 * CPU per hit, requests/s and p99, from one shield, in the same run. The variant is a
 * transform URL under `images.transformPrefix` (`/img/width=400,format=webp/…`, made
 * once by the warm-up); the plain object is what the origin serves at `/same-size`: the
 * variant's bytes, with the same Content-Type. So the ratio is what the transform route
 * costs a hit (option parsing or its memo, resolution, the variant bound, the Vary
 * lookup) over the plain cache path.
 *
 *   npx tsx bench/shield-variant-hit.ts   (about 30 s; BENCH_SECONDS 2, BENCH_ROUNDS 5,
 *                                          BENCH_CONNECTIONS 64)
 *
 * Pinned as bench/shield-hit.ts is: wrk (or autocannon in its own process) on core 0,
 * the shield alone on core 1; runs alternate variant and plain, the order swapping each
 * round, and the ratio is the median of the per-round ratios. Every answer is checked
 * (status, Content-Length, body length, Content-Type, a Cache-Status saying hit); one
 * of each is compared byte for byte before and after every run; the origin must see no
 * request after the warm-up (one source fetch, one same-size fetch).
 *
 * Target: a variant hit at most 1.2× the shield CPU of a plain hit of the same size.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { photoJpeg } from "../tests/helpers/images.ts";
import { get } from "./lib/http.ts";
import { type Child, startChild } from "./lib/proc.ts";
import { fail, fixed, int, median, printTable, type Row } from "./lib/table.ts";
import { haveTaskset, type PinnedLoadResult, pinnedLoad } from "./lib/wrk.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const TARGET = 1.2;
const VARIANT = "/img/width=400,format=webp/photo/a.jpg";
const PLAIN = "/same-size";

const photo = await photoJpeg({ width: 1200, height: 800 });
let sameSize: Buffer | null = null;
let originRequests = 0;
const origin = createServer((req, res) => {
  originRequests++;
  if (req.url === "/photo/a.jpg") {
    res.writeHead(200, {
      "content-type": "image/jpeg",
      "content-length": String(photo.length),
      "cache-control": "public, max-age=3600",
    });
    res.end(photo);
    return;
  }
  if (req.url === PLAIN && sameSize !== null) {
    res.writeHead(200, {
      "content-type": "image/webp",
      "content-length": String(sameSize.length),
      "cache-control": "public, max-age=3600",
    });
    res.end(sameSize);
    return;
  }
  res.writeHead(404, { "content-length": "0" });
  res.end();
});
await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const config = JSON.stringify({ origins: [{ name: "bench", url: originUrl, hosts: ["*"] }] });

const children: Child[] = [];
async function main(): Promise<void> {
  if (!haveTaskset()) fail("taskset is needed to pin the load generator and the shield");
  const shield = await startChild("serve-shield.ts", [config, "silent"], [], { cpu: 1 });
  children.push(shield);

  const made = await get(shield.url + VARIANT);
  if (made.status !== 200 || made.headers["content-type"] !== "image/webp") {
    fail(
      `the variant: ${made.status} ${made.headers["content-type"]} ${made.body.toString().slice(0, 200)}`,
    );
  }
  sameSize = made.body;
  await get(shield.url + PLAIN);
  const warmOrigin = originRequests;
  if (warmOrigin !== 2) fail(`warming took ${warmOrigin} origin requests, expected 2`);

  /** One request, compared byte for byte with the variant's bytes; its raw headers. */
  const verify = async (path: string): Promise<string[]> => {
    const r = await get(shield.url + path);
    const cs = String(r.headers["cache-status"] ?? "");
    if (r.status !== 200 || !cs.includes("hit")) fail(`${path}: ${r.status} ${cs}`);
    if (!r.body.equals(made.body)) fail(`${path}: body differs from the variant made`);
    return r.rawHeaders;
  };
  const run = async (path: string, seconds: number): Promise<PinnedLoadResult> => {
    const rawHeaders = await verify(path);
    const r = await pinnedLoad({
      url: shield.url + path,
      seconds,
      connections: CONNECTIONS,
      pid: shield.pid,
      cpu: 0,
      expect: {
        status: 200,
        length: made.body.length,
        cacheStatus: "hit",
        contentType: "image/webp",
        rawHeaders,
      },
    });
    await verify(path);
    return r;
  };
  await run(VARIANT, 1);
  await run(PLAIN, 1);

  const variant: PinnedLoadResult[] = [];
  const plain: PinnedLoadResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [VARIANT, PLAIN] : [PLAIN, VARIANT];
    for (const path of order) {
      const x = await run(path, SECONDS);
      (path === VARIANT ? variant : plain).push(x);
      process.stderr.write(
        `  round ${round + 1} ${path === VARIANT ? "variant" : "plain  "} ${int(x.rps).padStart(7)} req/s ` +
          `p99 ${fixed(x.p99, 2)} ms, shield ${fixed(x.cpuUs)} µs/req at ${x.cpuPct}% CPU` +
          `${Number.isNaN(x.otherPct) ? "" : `, others ${x.otherPct}%`}\n`,
      );
    }
  }
  if (originRequests !== warmOrigin) {
    fail(`${originRequests - warmOrigin} origin requests during the hit runs`);
  }
  const ratios = (f: (x: PinnedLoadResult) => number) => variant.map((v, i) => f(v) / f(plain[i]!));
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  const cpu = ratios((x) => x.cpuUs);
  const rps = ratios((x) => x.rps);
  const rows: Row[] = [
    {
      figure: `variant hit, shield CPU µs/req (spread ${spread(cpu)})`,
      value: fixed(median(variant.map((x) => x.cpuUs))),
      baseline: fixed(median(plain.map((x) => x.cpuUs))),
      ratio: `${median(cpu).toFixed(2)}×`,
      target: `≤ ${TARGET.toFixed(2)}×`,
      pass: median(cpu) <= TARGET,
    },
    {
      figure: `variant hit, req/s (spread ${spread(rps)})`,
      value: int(median(variant.map((x) => x.rps))),
      baseline: int(median(plain.map((x) => x.rps))),
      ratio: `${median(rps).toFixed(2)}×`,
      target: "—",
    },
    {
      figure: "variant hit, p99 ms",
      value: fixed(median(variant.map((x) => x.p99)), 2),
      baseline: fixed(median(plain.map((x) => x.p99)), 2),
      ratio: `${(median(variant.map((x) => x.p99)) / median(plain.map((x) => x.p99))).toFixed(2)}×`,
      target: "—",
    },
  ];
  printTable(
    `cached image variant (${int(made.body.length)} B WebP, ${VARIANT}) vs a plain cached object of ` +
      `the same bytes (median of ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections, ` +
      `${variant[0]?.tool ?? "wrk"} on core 0, shield alone on core 1, Node ${process.version})`,
    rows,
  );
  const others = [...variant, ...plain].map((x) => x.otherPct).filter((x) => !Number.isNaN(x));
  if (others.length > 0) {
    console.log(`other processes during the runs: median ${median(others)}% of a core`);
  }
  process.exitCode = rows.every((r) => r.pass !== false) ? 0 : 1;
}

try {
  await main();
} finally {
  for (const c of children) await c.stop();
  origin.closeAllConnections();
  origin.close();
}
