/**
 * A cached image variant against a plain cached object of the same byte size: server
 * CPU per hit, requests/s and p99, measured side by side (below) in the same run. The variant is a
 * transform URL under `images.transformPrefix` (`/img/width=400,format=webp/…`, made
 * once by the warm-up); the plain object is what the origin serves at `/same-size`: the
 * variant's bytes, with the same Content-Type. So the ratio is what the transform route
 * costs a hit (option parsing or its memo, resolution, the variant bound, the Vary
 * lookup) over the plain cache path.
 *
 *   npx tsx bench/shield-variant-hit.ts   (about 30 s; BENCH_SECONDS 2, BENCH_ROUNDS 5,
 *                                          BENCH_CONNECTIONS 64)
 *
 * Side by side: two identical shields, both pinned to core 1, and two load generators
 * (wrk, or autocannon in its own process), both on core 0, half the connections each.
 * In each round one shield serves the variant and the other the plain object at the same
 * moment, and the roles swap every round; the ratio is the median of the per-round
 * ratios. On a machine shared with other work, runs one after the other gave ratios from
 * 0.85× to 1.07× for the same code (spreads up to 0.56–1.42 within a run): CPU per request
 * itself changes with how busy the core is, since each wake-up then finds more requests
 * waiting. Side by side both sides see the same load. Every answer is checked (status,
 * Content-Length, body length, Content-Type, a Cache-Status saying hit); one of each is
 * compared byte for byte before and after every run; the origin must see no request after
 * the warm-up (one source fetch and one same-size fetch per shield).
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

/** Runs of `path` on one shield, every answer checked against the variant's bytes. */
function loadsOn(shield: Child, made: Buffer) {
  /** One request, compared byte for byte with the variant's bytes; its raw headers. */
  const verify = async (path: string): Promise<string[]> => {
    const r = await get(shield.url + path);
    const cs = String(r.headers["cache-status"] ?? "");
    if (r.status !== 200 || !cs.includes("hit")) fail(`${path}: ${r.status} ${cs}`);
    if (!r.body.equals(made)) fail(`${path}: body differs from the variant made`);
    return r.rawHeaders;
  };
  return async (path: string, seconds: number): Promise<PinnedLoadResult> => {
    const rawHeaders = await verify(path);
    const r = await pinnedLoad({
      url: shield.url + path,
      seconds,
      connections: Math.max(1, Math.floor(CONNECTIONS / 2)),
      pid: shield.pid,
      cpu: 0,
      expect: {
        status: 200,
        length: made.length,
        cacheStatus: "hit",
        contentType: "image/webp",
        rawHeaders,
      },
    });
    await verify(path);
    return r;
  };
}

async function main(): Promise<void> {
  if (!haveTaskset()) fail("taskset is needed to pin the load generators and the shields");
  const shields = [
    await startChild("serve-shield.ts", [config, "silent"], [], { cpu: 1 }),
    await startChild("serve-shield.ts", [config, "silent"], [], { cpu: 1 }),
  ];
  children.push(...shields);

  const made = await get((shields[0] as Child).url + VARIANT);
  if (made.status !== 200 || made.headers["content-type"] !== "image/webp") {
    fail(
      `the variant: ${made.status} ${made.headers["content-type"]} ${made.body.toString().slice(0, 200)}`,
    );
  }
  sameSize = made.body;
  for (const shield of shields) {
    // Each shield makes its own variant (the same bytes) and stores the plain object.
    const own = await get(shield.url + VARIANT);
    if (!own.body.equals(made.body)) fail("the two shields made different variants");
    await get(shield.url + PLAIN);
  }
  const warmOrigin = originRequests;
  if (warmOrigin !== 4) fail(`warming took ${warmOrigin} origin requests, expected 4`);
  const [first, second] = shields.map((shield) => loadsOn(shield, made.body)) as [
    ReturnType<typeof loadsOn>,
    ReturnType<typeof loadsOn>,
  ];
  // JIT warm-up of both paths on both shields.
  await Promise.all([first(VARIANT, 1), second(PLAIN, 1)]);
  await Promise.all([second(VARIANT, 1), first(PLAIN, 1)]);

  const variant: PinnedLoadResult[] = [];
  const plain: PinnedLoadResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [variantOn, plainOn] = round % 2 === 0 ? [first, second] : [second, first];
    const [x, y] = await Promise.all([variantOn(VARIANT, SECONDS), plainOn(PLAIN, SECONDS)]);
    variant.push(x);
    plain.push(y);
    for (const [label, r] of [
      ["variant", x],
      ["plain  ", y],
    ] as const) {
      process.stderr.write(
        `  round ${round + 1} ${label} ${int(r.rps).padStart(7)} req/s ` +
          `p99 ${fixed(r.p99, 2)} ms, shield ${fixed(r.cpuUs)} µs/req at ${r.cpuPct}% CPU\n`,
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
      `the same bytes, side by side (median of ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS / 2} connections a side, ` +
      `${variant[0]?.tool ?? "wrk"} on core 0, the two shields on core 1, Node ${process.version})`,
    rows,
  );
  process.exitCode = rows.every((r) => r.pass !== false) ? 0 : 1;
}

try {
  await main();
} finally {
  for (const c of children) await c.stop();
  origin.closeAllConnections();
  origin.close();
}
