/**
 * Images through the shield, each figure beside raw sharp (or a plain cached object)
 * doing the same work in the same run, at the same moment. The source is a 2000×1500
 * photo-like JPEG (476 KB).
 *
 *   npx tsx bench/image.ts   (2 to 4 min on 2 cores; BENCH_IMAGES, BENCH_CONVERT_IMAGES,
 *                             BENCH_ROUNDS, BENCH_SECONDS, BENCH_CLIENTS)
 *
 * Transforms (→ 800 px WebP, → 800 px AVIF): every request names a variant never made
 * before (`/img/format=avif,width=800/photo/<n>.jpg`), so each is a miss that runs sharp.
 * "Source cached": the source was fetched through the shield beforehand (untimed), so the
 * figure is the shield's own cost around sharp. "Source from origin": the source also
 * crosses loopback from the origin, through the shield's cache, inside the request.
 * Conversions (images.convert): a plain path `/photo/c<n>.jpg` asked for by a client that
 * takes AVIF (or only WebP), converted at full size, its source from the origin. The
 * baseline is sharp in this process on the same bytes with the same operations and
 * encoder settings (`sharp(jpeg).resize(800).avif(…)`, or no resize for a conversion).
 *
 * Every round runs the shield and raw sharp side by side (bench/lib/image-runs.ts says
 * why), each with half of BENCH_CLIENTS (default twice the cores, the shield's default
 * number of transforms at once) in flight, so the machine holds as many transforms as
 * in the shield alone at its default. A ratio is the median of per-round ratios, its
 * spread the smallest and largest of them.
 *
 * Hits (bench/lib/image-hits.ts): shield CPU per cached variant against a plain cached
 * object of the same bytes, for a transform, a format=auto transform and a conversion.
 *
 * Every answer is checked (status, Content-Type, Cache-Status; the first of each kind is
 * decoded and its width checked), and the origin must see one request per source.
 *
 * Targets: AVIF from an origin source p50 ≤ 1.3× raw sharp's; transform (source
 * cached) and conversion throughput ≥ 0.85× raw sharp's; a cached variant hit ≤ 1.2× the
 * shield CPU of a plain hit.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import sharp, { type Sharp } from "sharp";
import { parseConfig } from "../core/config/index.ts";
import { photoJpeg } from "../tests/helpers/images.ts";
import { HIT_ORIGIN_REQUESTS, measureHits } from "./lib/image-hits.ts";
import { type Answer, getWith, paired, type Run, ratios, type Side } from "./lib/image-runs.ts";
import { startChild } from "./lib/proc.ts";
import { fail, fixed, int, median, printTable, type Row } from "./lib/table.ts";

const IMAGES = Number(process.env.BENCH_IMAGES ?? 24);
const CONVERT_IMAGES = Number(process.env.BENCH_CONVERT_IMAGES ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CORES = availableParallelism();
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? CORES * 2);
const EACH = Math.max(1, Math.floor(CLIENTS / 2));
if (ROUNDS < 3) fail("at least 3 rounds: a median of fewer says little");

sharp.concurrency(CORES);
sharp.cache(false);
const photo = await photoJpeg({ width: 2000, height: 1500 });
const images = parseConfig({
  origins: [{ name: "o", url: "http://127.0.0.1:1", hosts: ["*"] }],
}).images;

// What the shield's defaults do (image-pipeline: quality "medium-high" is 85 for WebP and
// 60 for AVIF; efforts from the config).
const encode = (format: "webp" | "avif", img: Sharp): Promise<Buffer> =>
  format === "webp"
    ? img.webp({ quality: 85, effort: images.webpEffort }).toBuffer()
    : img.avif({ quality: 60, effort: images.avifEffort }).toBuffer();
const maxHeight = images.limits.maxOutputHeight;
const resized = () =>
  sharp(photo, { autoOrient: true }).resize({ width: 800, height: maxHeight, fit: "inside" });

interface Work {
  readonly name: string;
  readonly type: string;
  readonly width: number;
  readonly raw: () => Promise<Buffer>;
  /** Path of image `n` and the request's fields. */
  readonly path: (n: number) => string;
  readonly fields: Readonly<Record<string, string>>;
}

const TRANSFORMS: readonly Work[] = (["webp", "avif"] as const).map((format) => ({
  name: `${format === "webp" ? "WebP" : "AVIF"} 800 px`,
  type: `image/${format}`,
  width: 800,
  raw: () => encode(format, resized()),
  path: (n) => `/img/format=${format},width=800/photo/${n}.jpg`,
  fields: {},
}));
const CONVERSIONS: readonly Work[] = (["avif", "webp"] as const).map((format) => ({
  name: `conversion to ${format === "webp" ? "WebP" : "AVIF"} (2000 px)`,
  type: `image/${format}`,
  width: 2000,
  raw: () => encode(format, sharp(photo, { autoOrient: true })),
  path: (n) => `/photo/c${n}.jpg`,
  // Chromium's Accept for AVIF; for WebP, a client that does not take AVIF.
  fields: { accept: format === "avif" ? "image/avif,image/webp,*/*" : "image/webp,*/*" },
}));

const plain = new Map<string, { body: Buffer; type: string }>();
let originRequests = 0;
const origin = createServer((req, res) => {
  originRequests++;
  const url = req.url ?? "/";
  const same = plain.get(url.slice("/same/".length));
  const body = url.startsWith("/photo/") ? photo : url.startsWith("/same/") ? same?.body : null;
  if (body === null || body === undefined) {
    res.writeHead(404, { "content-length": "0" });
    res.end();
    return;
  }
  res.writeHead(200, {
    "content-type": same?.type ?? "image/jpeg",
    "content-length": String(body.length),
    "cache-control": "public, max-age=3600",
  });
  res.end(body);
});
await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", 1_024, resolve));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const shield = await startChild("serve-shield.ts", [
  JSON.stringify({ origins: [{ name: "bench", url: originUrl, hosts: ["*"] }] }),
]);

/** Source ids handed out: each is one source the origin is asked for once. */
let serial = 0;

/** Fail unless the answer is a fresh variant of `work` (a miss that ran sharp). */
function checkMade(answer: Answer, work: Work): void {
  if (answer.status !== 200 || answer.headers["content-type"] !== work.type) {
    fail(
      `${work.name}: ${answer.status} ${answer.headers["content-type"]}: ${answer.body.toString().slice(0, 200)}`,
    );
  }
  if (!String(answer.headers["cache-status"]).includes("fwd=uri-miss")) {
    fail(`${work.name}: expected a miss, got Cache-Status ${answer.headers["cache-status"]}`);
  }
}

/** A new variant of a new source, its source from the origin. */
async function fromOrigin(work: Work): Promise<void> {
  checkMade(await getWith(shield.url + work.path(serial++), work.fields), work);
}

/** The shield's side: `count` new variants, their sources cached first when `cached`. */
async function shieldSide(work: Work, count: number, cached: boolean): Promise<Side> {
  const ids = Array.from({ length: count }, () => serial++);
  if (cached) {
    for (const id of ids) {
      const r = await getWith(`${shield.url}/photo/${id}.jpg`, {});
      if (r.status !== 200 || r.body.length !== photo.length) fail(`source fetch: ${r.status}`);
    }
  }
  return {
    count,
    measured: async (index) =>
      checkMade(await getWith(shield.url + work.path(ids[index] as number), work.fields), work),
    filler: () => fromOrigin(work),
  };
}

function rawSide(work: Work, count: number): Side {
  const once = async () => {
    if ((await work.raw()).length === 0) fail("raw sharp produced nothing");
  };
  return { count, measured: once, filler: once };
}

/** One round of `work`: the shield and raw sharp side by side; [shield, raw]. */
async function round(work: Work, count: number, cached: boolean, index: number) {
  const shieldRuns = await shieldSide(work, count, cached);
  const raw = rawSide(work, count);
  // Which side starts its first request first alternates too.
  const even = index % 2 === 0;
  const runs = even ? await paired(EACH, shieldRuns, raw) : await paired(EACH, raw, shieldRuns);
  const [shieldRun, rawRun]: [Run, Run] = even ? runs : [runs[1], runs[0]];
  const label = `${work.name}${work.width === 800 ? (cached ? ", cached" : ", origin") : ""}`;
  process.stderr.write(
    `  round ${index + 1} ${label.padEnd(40)} shield ${fixed(shieldRun.perSecond, 2)}/s p50 ${fixed(shieldRun.p50, 0)} ms; ` +
      `raw ${fixed(rawRun.perSecond, 2)}/s p50 ${fixed(rawRun.p50, 0)} ms\n`,
  );
  return { shield: shieldRun, raw: rawRun };
}

// Warm both sides (JIT, libvips, connections), and check what the shield makes.
for (const work of [...TRANSFORMS, ...CONVERSIONS]) {
  const first = await getWith(shield.url + work.path(serial++), work.fields);
  checkMade(first, work);
  const width = (await sharp(first.body).metadata()).width;
  if (width !== work.width) fail(`the shield's ${work.name} is ${width} px wide`);
  await round(work, CLIENTS, false, 0);
}

const rows: Row[] = [];
function spreadRow(
  figure: string,
  value: readonly number[],
  baseline: readonly number[],
  digits: number,
  target?: { readonly at: number; readonly most: boolean },
): void {
  const r = ratios(value, baseline);
  rows.push({
    figure: `${figure} (spread ${r.spread})`,
    value: fixed(median(value), digits),
    baseline: fixed(median(baseline), digits),
    ratio: `${fixed(r.median, 2)}×`,
    target: target === undefined ? "" : `${target.most ? "≤" : "≥"} ${target.at}×`,
    pass:
      target === undefined
        ? undefined
        : target.most
          ? r.median <= target.at
          : r.median >= target.at,
  });
}
const throughput = { at: 0.85, most: false };
/** Both figures of a set of rounds: images/s (`target` on it, if any) and p50. */
function figures(
  name: string,
  runs: { shield: Run; raw: Run }[],
  targets: { perSecond?: typeof throughput; p50?: typeof throughput },
): void {
  const pick = (side: "shield" | "raw", field: keyof Run) => runs.map((run) => run[side][field]);
  const perSecond = (side: "shield" | "raw") => pick(side, "perSecond");
  spreadRow(`${name}, images/s`, perSecond("shield"), perSecond("raw"), 2, targets.perSecond);
  spreadRow(`${name}, p50 ms`, pick("shield", "p50"), pick("raw", "p50"), 0, targets.p50);
}

for (const work of TRANSFORMS) {
  const cached: { shield: Run; raw: Run }[] = [];
  const origins: { shield: Run; raw: Run }[] = [];
  for (let index = 0; index < ROUNDS; index++) {
    cached.push(await round(work, IMAGES, true, index));
    origins.push(await round(work, IMAGES, false, index));
  }
  const avif = work.type === "image/avif";
  figures(`${work.name}, source cached`, cached, { perSecond: throughput });
  figures(`${work.name}, source from origin`, origins, {
    p50: avif ? { at: 1.3, most: true } : undefined,
  });
}
for (const work of CONVERSIONS) {
  const runs: { shield: Run; raw: Run }[] = [];
  for (let index = 0; index < ROUNDS; index++) {
    runs.push(await round(work, CONVERT_IMAGES, false, index));
  }
  figures(work.name, runs, { perSecond: throughput });
}
const sources = serial;
const originSoFar = originRequests;
await shield.stop();

const hits = await measureHits({
  originUrl,
  sameSize: (name, body, type) => plain.set(name, { body, type }),
  rounds: ROUNDS,
  seconds: SECONDS,
  progress: (line) => process.stderr.write(`${line}\n`),
});
for (const hit of hits) {
  const label = `${hit.kind.name} hit (${int(hit.bytes)} B ${hit.kind.type})`;
  const cpu = (runs: typeof hit.variant) => runs.map((run) => run.cpuUs);
  spreadRow(`${label}, shield CPU µs/req`, cpu(hit.variant), cpu(hit.plain), 1, {
    at: 1.2,
    most: true,
  });
}
origin.closeAllConnections();
origin.close();

console.log(
  `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${CORES} cores, Node ${process.version}; ` +
    `${ROUNDS} rounds: ${IMAGES} transforms or ${CONVERT_IMAGES} conversions a side, ${EACH} in flight a side; ` +
    `hits ${SECONDS} s a side; shield defaults (avifEffort ${images.avifEffort}, webpEffort ${images.webpEffort})\n`,
);
const ok = printTable(
  "Images through the shield, side by side with raw sharp or a plain cached object of the same bytes",
  rows,
);
// One origin request per source id handed out (measured, filler, warm-up), and the hits'.
if (originSoFar !== sources || originRequests !== sources + HIT_ORIGIN_REQUESTS) {
  fail(
    `the origin saw ${originSoFar} + ${originRequests - originSoFar} requests, expected ${sources} + ${HIT_ORIGIN_REQUESTS}`,
  );
}
if (!ok) process.exitCode = 1;
