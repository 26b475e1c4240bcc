/**
 * Encoder effort for on-demand transforms: a 2000×1500 photo-like JPEG resized to 800 px
 * wide and encoded as AVIF at effort 0 to 4 (and WebP at effort 0 to 6), with what each
 * costs in time and buys in bytes and fidelity. The baseline in the same run is the
 * resize alone (decode + resize, no encode), so the encode's own share is visible.
 *
 *   npx tsx bench/image-effort.ts          (about 40 s; BENCH_REPEAT overrides 5)
 *
 * Time: median of BENCH_REPEAT runs, with sharp.concurrency set from the cores, as the
 * shield sets it. Fidelity: PSNR (dB) of the decoded output against the resized
 * original, higher is closer. The source is generated (tests/helpers/images.ts).
 * The table in the README ("Image pipeline") comes from this script.
 */
import { availableParallelism } from "node:os";
import sharp from "sharp";
import { photoJpeg } from "../tests/helpers/images.ts";
import { fixed, int, median } from "./lib/table.ts";

const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
sharp.concurrency(availableParallelism());

const source = await photoJpeg({ width: 2000, height: 1500 });
const reference = await sharp(source).resize(800).removeAlpha().raw().toBuffer();

async function timed(run: () => Promise<Buffer>): Promise<{ ms: number; out: Buffer }> {
  const times: number[] = [];
  let out: Buffer = Buffer.alloc(0);
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    out = await run();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), out };
}

async function psnr(encoded: Buffer): Promise<number> {
  const decoded = await sharp(encoded).removeAlpha().raw().toBuffer();
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = (reference[i] as number) - (decoded[i] as number);
    sum += d * d;
  }
  const mse = sum / reference.length;
  return 10 * Math.log10((255 * 255) / mse);
}

const base = await timed(() => sharp(source).resize(800).raw().toBuffer());
console.log(
  `source: ${int(source.length)} B JPEG 2000×1500 → 800×600; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, concurrency ${sharp.concurrency()}`,
);
console.log(`baseline (decode + resize, no encode): ${fixed(base.ms, 0)} ms\n`);
const head = "| encoder | effort | quality | ms | × baseline | bytes | PSNR dB |";
console.log(head);
console.log("|---|---:|---:|---:|---:|---:|---:|");
const rows: [string, number, number, () => Promise<Buffer>][] = [];
for (let e = 0; e <= 4; e++) {
  rows.push([
    "AVIF",
    e,
    60,
    () => sharp(source).resize(800).avif({ quality: 60, effort: e }).toBuffer(),
  ]);
}
for (let e = 0; e <= 6; e++) {
  rows.push([
    "WebP",
    e,
    85,
    () => sharp(source).resize(800).webp({ quality: 85, effort: e }).toBuffer(),
  ]);
}
rows.push([
  "JPEG",
  0,
  85,
  () => sharp(source).resize(800).jpeg({ quality: 85, progressive: true }).toBuffer(),
]);
for (const [name, effort, q, run] of rows) {
  const r = await timed(run);
  const effortCell = name === "JPEG" ? "–" : String(effort);
  console.log(
    `| ${name} | ${effortCell} | ${q} | ${fixed(r.ms, 0)} | ${fixed(r.ms / base.ms, 1)} | ${int(r.out.length)} | ${fixed(await psnr(r.out), 2)} |`,
  );
}
