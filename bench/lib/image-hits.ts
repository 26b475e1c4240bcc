/**
 * Cached image variants against plain cached objects of the same bytes, for
 * bench/image.ts: the shield's CPU time per hit. Three kinds of variant, each asked for
 * as a browser asks (Chromium's image Accept, except the explicit transform):
 *
 *   transform   /img/format=webp,width=800/photo/hit-t.jpg   (the transform route's memo)
 *   auto        /img/format=auto,width=800/photo/hit-a.jpg   (negotiated: Vary: Accept)
 *   conversion  /photo/hit-c.jpg                             (images.convert: Vary: Accept)
 *
 * The plain object for each is `/same/<kind>` from the same origin: the variant's bytes
 * with its Content-Type, asked for with the same Accept.
 *
 * Side by side, as the transforms are (image-runs.ts): two identical shields, both
 * pinned to core 1, and two load generators (wrk, or autocannon in its own process), both
 * on core 0, 32 connections each. In each round one shield serves the variant and the
 * other the plain object at the same moment, and the roles swap every round, so neither
 * the machine's other load nor any difference between the two processes favours one
 * side. CPU per hit comes from /proc (all threads of each shield, over its run); the
 * ratio is the median of per-round ratios. Measured one after the other on one shield,
 * the same ratio spread from 0.5× to 1.6× within one run on this shared machine, because
 * CPU per request itself changes with how busy the core is (how many requests each
 * wake-up finds waiting).
 */
import { type Answer, getWith } from "./image-runs.ts";
import { type Child, startChild } from "./proc.ts";
import { fail } from "./table.ts";
import { haveTaskset, type PinnedLoadResult, pinnedLoad } from "./wrk.ts";

/** What Chromium sends for an <img>. */
export const CHROMIUM_IMAGE_ACCEPT =
  "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

export interface HitKind {
  readonly name: string;
  readonly path: string;
  readonly accept: string | null;
  readonly type: string;
}

export const HIT_KINDS: readonly HitKind[] = [
  {
    name: "transform",
    path: "/img/format=webp,width=800/photo/hit-t.jpg",
    accept: null,
    type: "image/webp",
  },
  {
    name: "auto",
    path: "/img/format=auto,width=800/photo/hit-a.jpg",
    accept: CHROMIUM_IMAGE_ACCEPT,
    type: "image/avif",
  },
  {
    name: "conversion",
    path: "/photo/hit-c.jpg",
    accept: CHROMIUM_IMAGE_ACCEPT,
    type: "image/avif",
  },
];

/** Origin requests the hits make: each shield fetches each kind's source and plain object. */
export const HIT_ORIGIN_REQUESTS = 2 * 2 * HIT_KINDS.length;

export interface HitResult {
  readonly kind: HitKind;
  readonly bytes: number;
  readonly variant: PinnedLoadResult[];
  readonly plain: PinnedLoadResult[];
}

/** A hit that must be answered from the cache with exactly `bytes`; its raw header list. */
async function hitOf(shield: Child, path: string, fields: Record<string, string>, bytes: Buffer) {
  const hit: Answer = await getWith(shield.url + path, fields);
  const status = String(hit.headers["cache-status"] ?? "");
  if (hit.status !== 200 || !status.includes("hit") || !hit.body.equals(bytes)) {
    fail(`${path}: ${hit.status} ${status}, or not the variant's bytes`);
  }
  return hit.rawHeaders;
}

/**
 * Measure every kind. `sameSize` hands the origin the plain object's bytes and type
 * (served at `/same/<kind>`); `originUrl` is that origin.
 */
export async function measureHits(options: {
  readonly originUrl: string;
  readonly sameSize: (name: string, body: Buffer, type: string) => void;
  readonly rounds: number;
  readonly seconds: number;
  readonly progress: (line: string) => void;
}): Promise<HitResult[]> {
  if (!haveTaskset()) fail("taskset is needed to pin the load generators and the shields");
  const config = JSON.stringify({
    origins: [{ name: "bench", url: options.originUrl, hosts: ["*"] }],
  });
  const shields = [
    await startChild("serve-shield.ts", [config, "silent"], [], { cpu: 1 }),
    await startChild("serve-shield.ts", [config, "silent"], [], { cpu: 1 }),
  ] as const;
  try {
    const results: HitResult[] = [];
    for (const kind of HIT_KINDS) {
      const fields: Record<string, string> = kind.accept === null ? {} : { accept: kind.accept };
      const plainPath = `/same/${kind.name}`;
      const made = await getWith(shields[0].url + kind.path, fields);
      if (made.status !== 200 || made.headers["content-type"] !== kind.type) {
        fail(`${kind.name} variant: ${made.status} ${made.headers["content-type"]}`);
      }
      options.sameSize(kind.name, made.body, kind.type);
      // For each shield: a load run of a path on it, every answer checked against one
      // validated here.
      const loads = [];
      for (const shield of shields) {
        // Each shield makes its own variant (the same bytes) and stores the plain object.
        await getWith(shield.url + kind.path, fields);
        await getWith(shield.url + plainPath, fields);
        const expect = async (path: string) => ({
          status: 200,
          length: made.body.length,
          cacheStatus: "hit",
          contentType: kind.type,
          rawHeaders: await hitOf(shield, path, fields, made.body),
        });
        const expected = {
          [kind.path]: await expect(kind.path),
          [plainPath]: await expect(plainPath),
        };
        loads.push((path: string, seconds: number) =>
          pinnedLoad({
            url: shield.url + path,
            seconds,
            connections: 32,
            pid: shield.pid,
            cpu: 0,
            headers: fields,
            expect: expected[path] as (typeof expected)[string],
          }),
        );
      }
      const [first, second] = loads as [(typeof loads)[0], (typeof loads)[0]];
      const result: HitResult = { kind, bytes: made.body.length, variant: [], plain: [] };
      // JIT warm-up of both paths on both shields before anything is measured.
      for (const [variantOn, plainOn] of [
        [first, second],
        [second, first],
      ] as const) {
        await Promise.all([variantOn(kind.path, 1), plainOn(plainPath, 1)]);
      }
      for (let round = 0; round < options.rounds; round++) {
        const [variantOn, plainOn] = round % 2 === 0 ? [first, second] : [second, first];
        const [variant, plain] = await Promise.all([
          variantOn(kind.path, options.seconds),
          plainOn(plainPath, options.seconds),
        ]);
        result.variant.push(variant);
        result.plain.push(plain);
        options.progress(
          `  hits round ${round + 1} ${kind.name.padEnd(10)} variant ${variant.cpuUs.toFixed(1)} µs/req ` +
            `(${Math.round(variant.rps)} req/s), plain ${plain.cpuUs.toFixed(1)} µs/req (${Math.round(plain.rps)} req/s)`,
        );
      }
      results.push(result);
    }
    return results;
  } finally {
    for (const shield of shields) await shield.stop();
  }
}
