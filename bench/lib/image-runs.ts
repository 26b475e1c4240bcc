/**
 * The runs bench/image.ts compares: image requests to the shield against the same sharp
 * work done in this process, side by side.
 *
 * Side by side, because the machine is shared: other processes' load can halve or double
 * within seconds, and two runs one after the other (even alternating, even a few seconds
 * apart) then differ by more than what is measured (spreads of 0.56–1.41× were seen for
 * one figure over three rounds). Here each round runs both sides at the same moment, each
 * with the same number of images in flight, so both see the same load. Each side makes
 * its measured images, then keeps making more, unmeasured, until the other side is done
 * too: neither ever runs alone. A side's images/s is its measured images over the time
 * they took; its p50 is theirs.
 */
import { request } from "node:http";
import { percentile } from "./table.ts";

export interface Run {
  readonly perSecond: number;
  readonly p50: number;
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** As received: [name, value, …]. */
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

/** One GET with the given request fields, the whole body read. */
export function getWith(url: string, headers: Readonly<Record<string, string>>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** One side of a paired run: `measured(i)` for i < count, then `filler()` until told to stop. */
export interface Side {
  readonly count: number;
  readonly measured: (index: number) => Promise<void>;
  readonly filler: () => Promise<void>;
}

/** Run one side with `inFlight` at a time; resolves when its measured images are done. */
async function runSide(
  side: Side,
  inFlight: number,
  stopped: () => boolean,
  drained: Promise<void>[],
): Promise<Run> {
  const times: number[] = [];
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  let finished = t0;
  let measuredDone: () => void = () => {};
  const allMeasured = new Promise<void>((resolve) => {
    measuredDone = resolve;
  });
  const worker = async (): Promise<void> => {
    while (!stopped()) {
      if (next < side.count) {
        next++;
        const start = performance.now();
        await side.measured(next - 1);
        times.push(performance.now() - start);
        if (++done === side.count) {
          finished = performance.now();
          measuredDone();
        }
      } else await side.filler();
    }
  };
  for (let i = 0; i < inFlight; i++) drained.push(worker());
  await allMeasured;
  return { perSecond: side.count / ((finished - t0) / 1000), p50: percentile(times, 50) };
}

/** Both sides at once, `inFlight` each; their measured runs, once both are done. */
export async function paired(inFlight: number, first: Side, second: Side): Promise<[Run, Run]> {
  let stop = false;
  const drained: Promise<void>[] = [];
  const runs = await Promise.all([
    runSide(first, inFlight, () => stop, drained),
    runSide(second, inFlight, () => stop, drained),
  ]);
  stop = true;
  await Promise.all(drained);
  return runs;
}

/** Per-round ratios of two series (value over baseline): their median and spread. */
export function ratios(
  value: readonly number[],
  baseline: readonly number[],
): { median: number; spread: string } {
  const each = value.map((v, i) => v / (baseline[i] as number)).sort((a, b) => a - b);
  const spread = `${(each[0] as number).toFixed(2)}–${(each[each.length - 1] as number).toFixed(2)}`;
  return { median: each[Math.floor(each.length / 2)] as number, spread };
}
