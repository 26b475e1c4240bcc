/**
 * Image transforms through the shield, beside raw sharp doing the same work in the same
 * run: a 2000×1500 photo-like JPEG → 800 px wide WebP, and → 800 px AVIF.
 *
 *   npx tsx bench/image.ts   (about 2 min; BENCH_IMAGES, BENCH_ROUNDS, BENCH_SECONDS, BENCH_CLIENTS)
 *
 * Transforms: every shield request names a variant never made before
 * (`/img/format=webp,width=800/photo/<n>.jpg`), so each one is a miss that runs sharp:
 * the source probed, hashed for the ETag, transformed in the queue, stored and sent.
 * Two kinds of run: "source cached" (the source was fetched through the shield
 * beforehand, untimed: a site asking for a new size of an image the shield holds, and
 * the shield's own cost around sharp), which the target applies to; and "source from
 * origin" (the 476 KB source also crosses loopback from the origin, through the
 * shield's cache, inside the timed request). The baseline is
 * `sharp(jpeg).resize(800).webp(…)` (or `.avif(…)`) in this process on the same bytes
 * with the same encoder settings. Both get the same concurrency, twice the cores in
 * flight (the shield's queue default runs that many transforms at once). Each run
 * reports images/s and the p50 time per image (so p50 includes waiting for a core, for
 * both); runs alternate raw and shield and the ratio is the median over rounds.
 *
 * Hits: requests/s and the shield's CPU time per hit for the cached WebP variant under
 * 50 connections, beside a plain cached object of the same size from the same shield,
 * so the ratio is what the transform route costs a hit (option parsing, resolution,
 * the variant bound).
 *
 * The shield runs in a child process (bench/lib/serve-shield.ts); the origin and the
 * clients run here, and are idle while raw sharp runs. Every answer is checked (status,
 * Content-Type, Cache-Status, and the first of each run decoded to 800 px).
 *
 * Target: shield at least 0.85× raw sharp's images/s.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import sharp from "sharp";
import { parseConfig } from "../core/config/index.ts";
import { photoJpeg } from "../tests/helpers/images.ts";
import { get } from "./lib/http.ts";
import { load, rawHeader } from "./lib/load.ts";
import { startChild } from "./lib/proc.ts";
import { fail, fixed, int, median, percentile, printTable, type Row } from "./lib/table.ts";

const IMAGES = Number(process.env.BENCH_IMAGES ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CORES = availableParallelism();
/** Requests (and raw transforms) in flight at once: as many as the shield's transform slots. */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? CORES * 2);
const TARGET = 0.85;

sharp.concurrency(CORES);
sharp.cache(false);
const photo = await photoJpeg({ width: 2000, height: 1500 });
const images = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
}).images;

// What the shield's defaults do for these two requests (image-pipeline: quality
// "medium-high" is 85 for WebP and 60 for AVIF; efforts from the config).
const FORMATS = [
  {
    name: "WebP",
    option: "webp",
    type: "image/webp",
    raw: () =>
      sharp(photo, { autoOrient: true })
        .resize({ width: 800, height: images.limits.maxOutputHeight, fit: "inside" })
        .webp({ quality: 85, effort: images.webpEffort })
        .toBuffer(),
  },
  {
    name: "AVIF",
    option: "avif",
    type: "image/avif",
    raw: () =>
      sharp(photo, { autoOrient: true })
        .resize({ width: 800, height: images.limits.maxOutputHeight, fit: "inside" })
        .avif({ quality: 60, effort: images.avifEffort })
        .toBuffer(),
  },
] as const;

let sameSize: Buffer = Buffer.alloc(0);
let originRequests = 0;
const origin = createServer((req, res) => {
  originRequests++;
  const url = req.url ?? "/";
  if (url.startsWith("/photo/")) {
    res.writeHead(200, {
      "content-type": "image/jpeg",
      "content-length": String(photo.length),
      "cache-control": "public, max-age=3600",
    });
    res.end(photo);
    return;
  }
  if (url === "/same-size") {
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
await new Promise<void>((r) => origin.listen(0, "127.0.0.1", 1_024, r));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const shield = await startChild("serve-shield.ts", [
  JSON.stringify({ origins: [{ name: "bench", url: originUrl, hosts: ["*"] }] }),
]);

interface Run {
  readonly perSecond: number;
  readonly p50: number;
}

/** `n` jobs, `CLIENTS` at a time; images/s over the whole run and p50 per image. */
async function pool(n: number, job: (i: number) => Promise<void>): Promise<Run> {
  const times: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const s = performance.now();
      await job(i);
      times.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  return { perSecond: n / ((performance.now() - t0) / 1000), p50: percentile(times, 50) };
}

let serial = 0;

/**
 * `n` transform requests for sources never transformed before. `cached`: each source is
 * first fetched through the shield (untimed), so the timed request finds it stored and
 * only the variant is new; otherwise the source too comes from the origin.
 */
async function throughShield(
  f: (typeof FORMATS)[number],
  n: number,
  cached: boolean,
): Promise<Run> {
  const ids = Array.from({ length: n }, () => serial++);
  if (cached) {
    await pool(n, async (i) => {
      const r = await get(`${shield.url}/photo/${ids[i]}.jpg`);
      if (r.status !== 200 || r.body.length !== photo.length) fail(`source fetch: ${r.status}`);
    });
  }
  return pool(n, async (i) => {
    const id = ids[i] as number;
    const r = await get(`${shield.url}/img/format=${f.option},width=800/photo/${id}.jpg`);
    if (r.status !== 200 || r.headers["content-type"] !== f.type) {
      fail(
        `shield answered ${r.status} ${r.headers["content-type"]}: ${r.body.toString().slice(0, 200)}`,
      );
    }
    if (!String(r.headers["cache-status"]).includes("fwd=uri-miss")) {
      fail(`expected a miss, got Cache-Status ${r.headers["cache-status"]}`);
    }
    if (i === 0) {
      const width = (await sharp(r.body).metadata()).width;
      if (width !== 800) fail(`the shield's ${f.name} is ${width} px wide, not 800`);
    }
  });
}

function rawSharp(f: (typeof FORMATS)[number], n: number): Promise<Run> {
  return pool(n, async () => {
    const out = await f.raw();
    if (out.length === 0) fail("raw sharp produced nothing");
  });
}

// Warm both (JIT, libvips, connections) before anything is measured.
for (const f of FORMATS) {
  await rawSharp(f, CLIENTS);
  await throughShield(f, CLIENTS, false);
}

const rows: Row[] = [];
let pass = true;
for (const f of FORMATS) {
  const raws: Run[] = [];
  const warm: Run[] = [];
  const cold: Run[] = [];
  const warmRatios: number[] = [];
  const coldRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const raw = await rawSharp(f, IMAGES);
    const w = await throughShield(f, IMAGES, true);
    const c = await throughShield(f, IMAGES, false);
    raws.push(raw);
    warm.push(w);
    cold.push(c);
    warmRatios.push(w.perSecond / raw.perSecond);
    coldRatios.push(c.perSecond / raw.perSecond);
  }
  const ratio = median(warmRatios);
  const ok = ratio >= TARGET;
  pass &&= ok;
  const rawPs = median(raws.map((r) => r.perSecond));
  const rawP50 = median(raws.map((r) => r.p50));
  for (const [label, runs, ratios, target] of [
    ["source cached", warm, warmRatios, true],
    ["source from origin", cold, coldRatios, false],
  ] as const) {
    const p50 = median(runs.map((r) => r.p50));
    rows.push({
      figure: `${f.name} 800 px, ${label}, images/s`,
      value: fixed(median(runs.map((r) => r.perSecond)), 1),
      baseline: fixed(rawPs, 1),
      ratio: `${fixed(median(ratios), 2)}×`,
      target: target ? `≥ ${TARGET}×` : "",
      pass: target ? ok : undefined,
    });
    rows.push({
      figure: `${f.name} 800 px, ${label}, p50 ms`,
      value: fixed(p50, 0),
      baseline: fixed(rawP50, 0),
      ratio: `${fixed(p50 / rawP50, 2)}×`,
      target: "",
    });
  }
}

// Cached variant hits beside a plain cached object of the same size.
const hitUrl = `${shield.url}/img/format=webp,width=800/photo/hit.jpg`;
const first = await get(hitUrl);
sameSize = first.body;
await get(`${shield.url}/same-size`);
const check =
  (type: string) =>
  (status: number, headers: readonly string[]): string | null => {
    if (status !== 200) return `status ${status}`;
    if (rawHeader(headers, "content-type") !== type) return "wrong content-type";
    return (rawHeader(headers, "cache-status") ?? "").includes("hit") ? null : "not a hit";
  };
const hitRatios: number[] = [];
const variantRps: number[] = [];
const plainRps: number[] = [];
const variantCpu: number[] = [];
const plainCpu: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const v = await load({
    url: hitUrl,
    seconds: SECONDS,
    connections: 50,
    check: check("image/webp"),
    pid: shield.pid,
  });
  const p = await load({
    url: `${shield.url}/same-size`,
    seconds: SECONDS,
    connections: 50,
    check: check("image/webp"),
    pid: shield.pid,
  });
  variantRps.push(v.rps);
  plainRps.push(p.rps);
  variantCpu.push(v.cpuUs);
  plainCpu.push(p.cpuUs);
  hitRatios.push(v.rps / p.rps);
}
rows.push({
  figure: `cached variant (${int(sameSize.length)} B), hits/s`,
  value: int(median(variantRps)),
  baseline: int(median(plainRps)),
  ratio: `${fixed(median(hitRatios), 2)}×`,
  target: "",
});
// On two cores autocannon can limit req/s before the shield does; CPU per hit cannot.
rows.push({
  figure: "cached variant, shield CPU µs/hit",
  value: fixed(median(variantCpu), 1),
  baseline: fixed(median(plainCpu), 1),
  ratio: `${fixed(median(variantCpu) / median(plainCpu), 2)}×`,
  target: "",
});

// One origin request per source: warm-up, both kinds of run, the hit source, same-size.
const expectedOrigin = 2 + FORMATS.length * (CLIENTS + 2 * ROUNDS * IMAGES);
await shield.stop();
origin.close();
console.log(
  `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${CORES} cores; ${IMAGES} images × ${ROUNDS} rounds, ${CLIENTS} at a time; shield: defaults (avifEffort ${images.avifEffort}, webpEffort ${images.webpEffort}, ${images.limits.concurrency || CORES * 2} transforms at once)\n`,
);
const ok = printTable(
  "Image transforms through the shield (baseline: raw sharp, same transform, same run)",
  rows,
);
if (originRequests !== expectedOrigin) {
  fail(`the origin saw ${originRequests} requests, expected ${expectedOrigin} (one per source)`);
}
if (!ok || !pass) process.exitCode = 1;
