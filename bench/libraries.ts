/**
 * Our own code against the maintained library for four jobs, measured in the same run, in
 * Node (the shield) and in workerd under Miniflare (the edge):
 *
 *   - Structured Fields (RFC 8941/9651): core/http/sf against `structured-headers`, parsing
 *     and serialising Cache-Status lists and CDN-Cache-Control dictionaries;
 *   - SHA-256 of cache keys of 50, 150 and 500 bytes, as `storageName` hashes them:
 *     core/key/hash.ts against `@noble/hashes` (sha256 + bytesToHex of the UTF-8 bytes);
 *   - the edge's in-isolate LRU, a get/set mix at the edge's default sizes: the Map-based
 *     LRU the edge had (kept below as `MapLru`) against workers/cache/isolate-cache.ts,
 *     which is `lru-cache`;
 *   - zod for the config schema: not a hot path (parsed once per isolate), so what is
 *     measured is what it adds to the Worker's bundle and to startup: core/config's schema
 *     built on classic `zod` (the shim as it was, `CLASSIC_SHIM`) against `zod/mini`
 *     (core/config/zod.ts now).
 *
 * Every figure is printed beside its baseline (ours), with a check that both gave the same
 * answer. Sizes are esbuild's, minified and bundled the way wrangler bundles the Worker.
 *
 *   npm run bench:libraries        (about 35 s)
 *
 * BENCH_ROUNDS (5) alternating rounds per pair and BENCH_MS (150) ms per round set the
 * run's length; medians are printed. Exits 1 when a check fails.
 */
import {
  parseDictionary,
  parseList,
  serializeBareItem,
  serializeDictionary,
  serializeList,
} from "../core/http/structured-fields.ts";
import { sha256Hex } from "../core/key/hash.ts";
import type { EntryMeta } from "../core/policy/index.ts";
import { IsolateCache, type MemoryLimits } from "../workers/cache/isolate-cache.ts";

// ---------- the libraries under test, loaded by the caller (Node or the Worker) ----------

export interface Libraries {
  readonly sh: typeof import("structured-headers");
  readonly sha256: typeof import("@noble/hashes/sha2.js").sha256;
  readonly bytesToHex: typeof import("@noble/hashes/utils.js").bytesToHex;
}

// ---------- the baseline LRU: the edge's former memory tier, as it was ----------

const OVERHEAD = 1024;

/** The Map-based LRU workers/cache/memory-tier.ts had (a Map keeps insertion order). */
export class MapLru {
  readonly #limits: MemoryLimits;
  readonly #held = new Map<
    string,
    { key: string; meta: EntryMeta; bytes: Uint8Array; until: number; size: number }
  >();
  #bytes = 0;

  constructor(limits: MemoryLimits) {
    this.#limits = limits;
  }

  fits(bytes: number): boolean {
    return bytes <= this.#limits.maxObjectBytes && bytes + OVERHEAD <= this.#limits.maxBytes;
  }

  get(name: string, key: string, now: number): { meta: EntryMeta; bytes: Uint8Array } | null {
    const held = this.#held.get(name);
    if (held === undefined) return null;
    if (held.key !== key || now >= held.until || now >= held.meta.deleteAt) {
      this.delete(name);
      return null;
    }
    this.#held.delete(name);
    this.#held.set(name, held);
    return { meta: held.meta, bytes: held.bytes };
  }

  set(name: string, key: string, meta: EntryMeta, bytes: Uint8Array, now: number): void {
    this.delete(name);
    if (!this.fits(bytes.byteLength)) return;
    const size = bytes.byteLength + key.length * 2 + OVERHEAD;
    const until = now + this.#limits.windowMs;
    this.#held.set(name, { key, meta, bytes, until, size });
    this.#bytes += size;
    for (const [oldest, held] of this.#held) {
      if (this.#bytes <= this.#limits.maxBytes) break;
      this.#held.delete(oldest);
      this.#bytes -= held.size;
    }
  }

  delete(name: string): void {
    const held = this.#held.get(name);
    if (held === undefined) return;
    this.#held.delete(name);
    this.#bytes -= held.size;
  }
}

// ---------- inputs ----------

/** Cache-Status as the shield and the edge write it (RFC 9211), origin side first. */
const CACHE_STATUS = [
  'shield; fwd=uri-miss; fwd-status=200; stored; ttl=300; key="[null,\\"https\\",\\"www.example.com\\",\\"/products/shoes\\",\\"color=red&size=42\\",[],[],null]", edge; fwd=miss; stored; ttl=300',
  "shield; hit; ttl=1088, edge; hit; ttl=1088",
  'origin-cache; hit; ttl=30, shield; fwd=stale; fwd-status=304; ttl=-12; collapsed=?0; detail=revalidated, "edge node 7"; fwd=uri-miss',
  "edge; fwd=bypass; detail=cookie",
];
/** CDN-Cache-Control / Cache-Control-like dictionaries (RFC 9213). */
const DICTIONARIES = [
  "max-age=3600, stale-while-revalidate=60, stale-if-error=86400",
  "max-age=300",
  'public, max-age=600, s-maxage=3600, must-revalidate, private="set-cookie"',
  "no-store",
];

/** Cache keys in buildCacheKey's form (core/key/cache-key.ts), `len` UTF-16 units long. */
function cacheKeys(len: number): string[] {
  return Array.from({ length: 64 }, (_, i) => {
    const head = `[null,"https","www.example.com","/catalogue/${i}/item`;
    const tail = `",null,[["accept-encoding","gzip"]],[],null]`;
    let path = "";
    for (let k = 0; head.length + path.length + tail.length < len; k++)
      path += "abcdefghij"[(i + k) % 10];
    return (head + path + tail).slice(0, len);
  });
}
const KEYS = { 50: cacheKeys(50), 150: cacheKeys(150), 500: cacheKeys(500) };

/** The edge's defaults (core/config/edge-schema.ts, edge.memory). */
const LIMITS: MemoryLimits = {
  maxBytes: 16 * 1024 * 1024,
  maxObjectBytes: 256 * 1024,
  windowMs: 1_000,
};
const LRU_NAMES = 4096;
const LRU_OPS = 1 << 16;
const lruWorkload = (() => {
  // Deterministic (no crypto at a Worker's global scope): objects of 0.5 to 32 KiB, about
  // a thousand fit the 16 MiB; requests skewed towards few objects, as hot sets are.
  let seed = 12345;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const shared = new Uint8Array(32 * 1024);
  const names = Array.from({ length: LRU_NAMES }, (_, i) => i.toString(16).padStart(32, "0"));
  const keys = names.map((n) => `[null,"https","www.example.com","/o/${n}",null,[],[],null]`);
  const bodies = names.map(() => shared.subarray(0, 512 + Math.floor(rnd() * 32 * 1024 - 512)));
  const picks = Uint16Array.from({ length: LRU_OPS }, () => Math.floor(LRU_NAMES * rnd() ** 4));
  const meta = { deleteAt: Number.MAX_SAFE_INTEGER } as EntryMeta;
  return { names, keys, bodies, picks, meta };
})();

interface Tier {
  get(name: string, key: string, now: number): unknown;
  set(name: string, key: string, meta: EntryMeta, bytes: Uint8Array, now: number): void;
}
/** One request: a get, and a set after a miss. The clock moves 1 ms per request. Returns 1 on a hit. */
function lruStep(tier: Tier, i: number): number {
  const w = lruWorkload;
  const j = w.picks[i & (LRU_OPS - 1)]!;
  const now = i;
  if (tier.get(w.names[j]!, w.keys[j]!, now) !== null) return 1;
  tier.set(w.names[j]!, w.keys[j]!, w.meta, w.bodies[j]!, now);
  return 0;
}

// ---------- the cases: each a function of the iteration number, returning a number to sink ----------

export interface Pair {
  readonly figure: string;
  readonly ours: (i: number) => number;
  readonly library: (i: number) => number;
}

export function makePairs(libs: Libraries): Pair[] {
  const { sh, sha256, bytesToHex } = libs;
  const enc = new TextEncoder();
  const noble = (s: string) => bytesToHex(sha256(enc.encode(s)));
  const oursLists = CACHE_STATUS.map(parseList);
  const shLists = CACHE_STATUS.map((s) => sh.parseList(s));
  const oursDicts = DICTIONARIES.map(parseDictionary);
  const shDicts = DICTIONARIES.map((s) => sh.parseDictionary(s));
  // One tier per side, reused across rounds: a long-running isolate's steady state.
  const mapLru = new MapLru(LIMITS);
  const isolate = new IsolateCache(LIMITS);
  const hash = (len: 50 | 150 | 500): Pair => ({
    figure: `SHA-256 hex, ${len} B cache keys`,
    ours: (i) => sha256Hex(KEYS[len][i & 63]!).length,
    library: (i) => noble(KEYS[len][i & 63]!).length,
  });
  return [
    {
      figure: "SF parse Cache-Status (list)",
      ours: (i) => parseList(CACHE_STATUS[i & 3]!).length,
      library: (i) => sh.parseList(CACHE_STATUS[i & 3]!).length,
    },
    {
      figure: "SF parse CDN-Cache-Control (dict)",
      ours: (i) => parseDictionary(DICTIONARIES[i & 3]!).size,
      library: (i) => sh.parseDictionary(DICTIONARIES[i & 3]!).size,
    },
    {
      figure: "SF serialise Cache-Status (list)",
      ours: (i) => serializeList(oursLists[i & 3]!).length,
      library: (i) => sh.serializeList(shLists[i & 3]!).length,
    },
    {
      figure: "SF serialise CDN-Cache-Control (dict)",
      ours: (i) => serializeDictionary(oursDicts[i & 3]!).length,
      library: (i) => sh.serializeDictionary(shDicts[i & 3]!).length,
    },
    hash(50),
    hash(150),
    hash(500),
    {
      figure: "edge LRU get/set mix (16 MiB, 0.5-32 KiB objects)",
      ours: (i) => lruStep(mapLru, i),
      library: (i) => lruStep(isolate, i),
    },
  ];
}

/** Same answers from both sides, or what differs. */
export function agreement(libs: Libraries): string[] {
  const { sh, sha256, bytesToHex } = libs;
  const bad: string[] = [];
  for (const s of CACHE_STATUS) {
    const a = serializeList(parseList(s));
    const b = sh.serializeList(sh.parseList(s));
    if (a !== b) bad.push(`SF list ${JSON.stringify(s)}: ours ${a}, library ${b}`);
  }
  for (const s of DICTIONARIES) {
    const a = serializeDictionary(parseDictionary(s));
    const b = sh.serializeDictionary(sh.parseDictionary(s));
    if (a !== b) bad.push(`SF dict ${JSON.stringify(s)}: ours ${a}, library ${b}`);
  }
  const enc = new TextEncoder();
  for (const k of [...KEYS[50], ...KEYS[150], ...KEYS[500], "é/ü ✓ 𝄞"]) {
    if (sha256Hex(k) !== bytesToHex(sha256(enc.encode(k)))) bad.push(`SHA-256 of ${k}`);
  }
  const a = new MapLru(LIMITS);
  const b = new IsolateCache(LIMITS);
  let hitsA = 0;
  let hitsB = 0;
  for (let i = 0; i < LRU_OPS; i++) {
    hitsA += lruStep(a, i);
    hitsB += lruStep(b, i);
  }
  if (hitsA !== hitsB) bad.push(`LRU hits: ours ${hitsA}, lru-cache ${hitsB}`);
  return bad;
}

/** The hit ratio of the LRU workload (the same for both, checked by `agreement`). */
export function lruHitRatio(): number {
  const t = new IsolateCache(LIMITS);
  let hits = 0;
  for (let i = 0; i < LRU_OPS; i++) hits += lruStep(t, i);
  return hits / LRU_OPS;
}

/**
 * RFC 8941/9651 cases where the two differ, each with what the RFC asks for: parse then
 * serialise, or serialise a number. core/http/sf implements RFC 8941, which has no Date or
 * Display String (RFC 9651 added them; no field the CDN reads or writes uses them).
 */
export function conformance(
  libs: Libraries,
): { input: string; rfc: string; ours: string; library: string }[] {
  const { sh } = libs;
  const run = (f: () => string): string => {
    try {
      return f();
    } catch {
      return "fails";
    }
  };
  const lists: [string, string][] = [
    ["5.0", "5.0 (8941 §4.2.4: stays a Decimal)"],
    ["@1659578233", "@1659578233 (9651 §4.2.9)"],
    ["@1659578233;a=1, @1", "@1659578233;a=1, @1 (9651 §4.2.9)"],
    ['%"f%c3%bc%c3%bc"', '%"f%c3%bc%c3%bc" (9651 §4.2.10)'],
  ];
  const numbers: [number, string][] = [
    [0.0625, "0.062 (8941 §4.1.5: ties to even)"],
    [1.0001, "1.0 (8941 §4.1.5)"],
    [-0.0001, "0.0 (8941 §4.1.5)"],
  ];
  return [
    ...lists.map(([input, rfc]) => ({
      input,
      rfc,
      ours: run(() => serializeList(parseList(input))),
      library: run(() => sh.serializeList(sh.parseList(input))),
    })),
    ...numbers.map(([n, rfc]) => ({
      input: `serialise ${n}`,
      rfc,
      ours: run(() => serializeBareItem(n)),
      library: run(() => sh.serializeBareItem(n)),
    })),
  ];
}

// ---------- zod: the classic shim, as core/config/zod.ts was ----------

/** A config with every section set (as tests/core/config/schema.test.ts has it). */
const FULL_CONFIG = {
  origins: [
    {
      name: "www",
      url: "https://origin.example.com/base",
      hosts: ["www.example.com", "*.cdn.example.com"],
      pathPrefix: "/",
    },
    { name: "api", url: "http://127.0.0.1:9000", hosts: ["www.example.com"], pathPrefix: "/api/" },
  ],
  cache: {
    honorRequestNoCache: true,
    heuristicFraction: 0.2,
    maxHeuristicTtl: 3600,
    defaultStaleWhileRevalidate: 30,
    defaultStaleIfError: 600,
    targetedCacheControl: ["Acme-CDN-Cache-Control", "CDN-Cache-Control"],
  },
  rules: [
    { name: "no admin", match: { path: ["/admin/**", "/login"] }, bypass: true },
    { match: { methods: ["GET", "HEAD"], status: [404, "5xx"] }, ttl: { set: 10 } },
    {
      match: { contentType: ["image/*", "text/css"] },
      ttl: { floor: 60, cap: 86_400 },
      staleIfError: 300,
    },
    { staleWhileRevalidate: 30 },
  ],
  key: {
    scheme: false,
    host: false,
    query: { mode: "deny", params: ["session*", "debug"], dropTracking: false, sort: false },
    headers: ["x-device"],
    cookies: ["lang"],
  },
  images: {
    paths: ["/media/**"],
    formats: ["webp"],
    widths: [100, 200],
    dprs: [1, 2],
    transformPrefix: "/_img/",
  },
  bypassCookies: ["session"],
};

const CLASSIC_SHIM = `
import { array, boolean, enum as enumOf, number, strictObject, string, union } from "zod";
export const z = { array, boolean, enum: enumOf, number, strictObject, string, union };
`;

// ---------- the run (Node only: nothing below runs when the Worker imports this module) ----------

const isMain =
  typeof process !== "undefined" &&
  typeof process.argv?.[1] === "string" &&
  /bench[\\/]libraries\.ts$/.test(process.argv[1]);

if (isMain) await main();

async function main(): Promise<void> {
  const { readFileSync } = await import("node:fs");
  const { createRequire } = await import("node:module");
  const { dirname, join, resolve } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const { gzipSync } = await import("node:zlib");
  const vm = await import("node:vm");
  const esbuild = await import("esbuild");
  const { Miniflare } = await import("miniflare");

  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const roundMs = Number(process.env.BENCH_MS ?? 150);
  const require = createRequire(import.meta.url);
  const started = performance.now();

  const missing = ["structured-headers", "@noble/hashes/sha2.js"].filter((m) => {
    try {
      require.resolve(m);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    console.error(
      `bench:libraries needs ${missing.join(" and ")} (npm i --no-save structured-headers @noble/hashes)`,
    );
    process.exit(1);
  }
  const libs: Libraries = {
    sh: await import("structured-headers"),
    sha256: (await import("@noble/hashes/sha2.js")).sha256,
    bytesToHex: (await import("@noble/hashes/utils.js")).bytesToHex,
  };

  const failures = agreement(libs);
  const pairs = makePairs(libs);

  // --- Node: alternating rounds of a fixed duration, median operations per second ---
  const rate = (f: (i: number) => number, ms: number): number => {
    let sink = 0;
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      for (let k = 0; k < 256; k++) sink += f(n++);
      t = performance.now();
    }
    if (sink < 0) console.log(sink);
    return (n / (t - t0)) * 1000;
  };
  const median = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const nodeRows = pairs.map((p) => {
    rate(p.ours, 50);
    rate(p.library, 50);
    const o: number[] = [];
    const l: number[] = [];
    for (let r = 0; r < rounds; r++) {
      o.push(rate(p.ours, roundMs));
      l.push(rate(p.library, roundMs));
    }
    return { figure: p.figure, ours: median(o), library: median(l) };
  });

  // --- workerd: the same cases in a Worker, timed from outside, per-request cost subtracted ---
  const worker = await esbuild.build({
    stdin: {
      contents: `
        import { makePairs } from "./bench/libraries.ts";
        import * as sh from "structured-headers";
        import { sha256 } from "@noble/hashes/sha2.js";
        import { bytesToHex } from "@noble/hashes/utils.js";
        const pairs = makePairs({ sh, sha256, bytesToHex });
        export default {
          fetch(request) {
            const q = new URL(request.url).searchParams;
            const p = pairs[Number(q.get("pair"))];
            const f = q.get("side") === "library" ? p.library : p.ours;
            const n = Number(q.get("n"));
            let sink = 0;
            for (let i = 0; i < n; i++) sink += f(i);
            return new Response(String(sink));
          },
        };`,
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    minify: true,
    write: false,
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["node:*", "esbuild", "miniflare"],
    logLevel: "silent",
  });
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: "index.js", contents: worker.outputFiles[0]!.text }],
    compatibilityDate: "2026-04-20",
  });
  const workerdRows: { figure: string; ours: number; library: number }[] = [];
  try {
    const call = async (pair: number, side: string, n: number): Promise<number> => {
      const t0 = performance.now();
      const res = await mf.dispatchFetch(`http://bench/?pair=${pair}&side=${side}&n=${n}`);
      if (!res.ok) throw new Error(`workerd: ${res.status} ${await res.text()}`);
      await res.text();
      return performance.now() - t0;
    };
    await call(0, "ours", 1);
    const empty: number[] = [];
    for (let k = 0; k < 9; k++) empty.push(await call(0, "ours", 0));
    const overhead = median(empty);
    // Warm every case up first (the first calls compile), then per side find the
    // iterations that take about a round, then time the rounds.
    for (let p = 0; p < pairs.length; p++) {
      for (const side of ["ours", "library"]) await call(p, side, 1 << 14);
    }
    const calibrate = async (pair: number, side: string): Promise<number> => {
      let n = 1024;
      for (;;) {
        const t = (await call(pair, side, n)) - overhead;
        if (t >= roundMs / 2 || n >= 1 << 24) return Math.ceil((n * roundMs) / Math.max(t, 1));
        n *= 4;
      }
    };
    for (let p = 0; p < pairs.length; p++) {
      const nOurs = await calibrate(p, "ours");
      const nLibrary = await calibrate(p, "library");
      const o: number[] = [];
      const l: number[] = [];
      for (let r = 0; r < Math.max(3, Math.ceil(rounds / 2)); r++) {
        o.push((nOurs / ((await call(p, "ours", nOurs)) - overhead)) * 1000);
        l.push((nLibrary / ((await call(p, "library", nLibrary)) - overhead)) * 1000);
      }
      workerdRows.push({ figure: pairs[p]!.figure, ours: median(o), library: median(l) });
    }
  } finally {
    await mf.dispose();
  }

  // --- sizes: esbuild, minified, as wrangler bundles the Worker ---
  const classicShim: import("esbuild").Plugin = {
    name: "classic-zod-shim",
    setup(build) {
      build.onLoad({ filter: /core[\\/]config[\\/]zod\.ts$/ }, () => ({
        contents: CLASSIC_SHIM,
        loader: "ts",
        resolveDir: join(root, "core/config"),
      }));
    },
  };
  const bundle = async (
    entry: string,
    plugins: import("esbuild").Plugin[] = [],
    format: "esm" | "iife" = "esm",
  ): Promise<{ text: string; min: number; gz: number }> => {
    const out = await esbuild.build({
      stdin: { contents: entry, resolveDir: root, loader: "ts" },
      bundle: true,
      format,
      minify: true,
      write: false,
      platform: "neutral",
      target: "es2024",
      conditions: ["workerd", "worker", "browser"],
      mainFields: ["browser", "module", "main"],
      external: ["node:*", "cloudflare:*"],
      plugins,
      logLevel: "silent",
    });
    const bytes = out.outputFiles[0]!.contents;
    return { text: out.outputFiles[0]!.text, min: bytes.length, gz: gzipSync(bytes).length };
  };
  // The Map LRU's source, from this file, standing in for workers/cache/isolate-cache.ts.
  const own = readFileSync(fileURLToPath(import.meta.url), "utf8");
  const mapLruSource = own.slice(
    own.indexOf("// ---------- the baseline LRU"),
    own.indexOf("// ---------- inputs"),
  );
  const mapLru: import("esbuild").Plugin = {
    name: "map-lru",
    setup(build) {
      build.onLoad({ filter: /workers[\\/]cache[\\/]isolate-cache\.ts$/ }, () => ({
        contents: `${mapLruSource}\nexport { MapLru as IsolateCache };`,
        loader: "ts",
      }));
    },
  };
  const WORKER = `export { default } from "./workers/index.ts";`;
  const workerNow = await bundle(WORKER);
  const workerClassic = await bundle(WORKER, [classicShim]);
  const workerMapLru = await bundle(WORKER, [mapLru]);
  const sizes = {
    sfOurs: await bundle(`export * from "./core/http/structured-fields.ts";`),
    sfLib: await bundle(`export * from "structured-headers";`),
    hashOurs: await bundle(`export { sha256Hex } from "./core/key/hash.ts";`),
    hashLib: await bundle(
      `import { sha256 } from "@noble/hashes/sha2.js"; import { bytesToHex } from "@noble/hashes/utils.js";
       export const sha256Hex = (s) => bytesToHex(sha256(new TextEncoder().encode(s)));`,
    ),
    lruOurs: await bundle(`export { IsolateCache } from "./workers/cache/isolate-cache.ts";`, [
      mapLru,
    ]),
    lruLib: await bundle(`export { IsolateCache } from "./workers/cache/isolate-cache.ts";`),
    configMini: await bundle(`export { parseConfig } from "./core/config/index.ts";`),
    configClassic: await bundle(`export { parseConfig } from "./core/config/index.ts";`, [
      classicShim,
    ]),
  };

  // --- zod at startup: evaluate core/config (builds every schema) and parse one config ---
  const CONFIG_ENTRY = `import { parseConfig } from "./core/config/index.ts"; globalThis.parseConfig = parseConfig;`;
  const configIife = {
    mini: (await bundle(CONFIG_ENTRY, [], "iife")).text,
    classic: (await bundle(CONFIG_ENTRY, [classicShim], "iife")).text,
  };
  const MINIMAL = {
    origins: [{ name: "www", url: "http://127.0.0.1:9000", hosts: ["www.example.com"] }],
  };
  const startup = (source: string, run: number): { load: number; parse: number } => {
    const context = vm.createContext({ URL, TextEncoder, TextDecoder, console });
    // A fresh source text each time, so V8's compilation cache does not serve it.
    const script = `${source}\n//${run}`;
    const t0 = performance.now();
    vm.runInContext(script, context);
    const t1 = performance.now();
    (context as { parseConfig: (c: unknown) => unknown }).parseConfig(MINIMAL);
    return { load: t1 - t0, parse: performance.now() - t1 };
  };
  const STARTUP_RUNS = 31;
  const loads = { mini: [] as number[], classic: [] as number[] };
  const parses = { mini: [] as number[], classic: [] as number[] };
  for (let r = 0; r < STARTUP_RUNS; r++) {
    for (const side of ["classic", "mini"] as const) {
      const s = startup(configIife[side], r);
      loads[side].push(s.load);
      parses[side].push(s.parse);
    }
  }

  // --- zod and zod/mini must agree: the same config, or the same issues and messages, for a
  // full config and for it with each field in turn wrong, removed, or beside an unknown key ---
  const checker = (source: string): ((json: string) => string) => {
    const context = vm.createContext({ URL, TextEncoder, TextDecoder, console });
    vm.runInContext(
      `${source}\nglobalThis.check = (json) => { try { return JSON.stringify(parseConfig(JSON.parse(json))); } catch (e) { return e.name + JSON.stringify(e.issues); } };`,
      context,
    );
    return (context as { check: (json: string) => string }).check;
  };
  const check = { classic: checker(configIife.classic), mini: checker(configIife.mini) };
  const base = JSON.parse(check.mini(JSON.stringify(FULL_CONFIG))) as unknown;
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]): void => {
    paths.push(p);
    if (v !== null && typeof v === "object") {
      for (const [k, c] of Object.entries(v)) walk(c, [...p, Array.isArray(v) ? Number(k) : k]);
    }
  };
  walk(base, []);
  const withValue = (p: (string | number)[], value: unknown): string => {
    if (p.length === 0) return JSON.stringify(value ?? null);
    const copy = structuredClone(base) as Record<string | number, unknown>;
    let at = copy;
    for (const k of p.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
    if (value === undefined) delete at[p.at(-1)!];
    else at[p.at(-1)!] = value;
    return JSON.stringify(copy);
  };
  const WRONG: unknown[] = [
    undefined,
    null,
    "x",
    "",
    -1,
    0,
    1.5,
    3e9,
    true,
    [],
    {},
    ["A B"],
    ["*"],
    ["a", "a"],
    "HTTP://X:80/?q",
    "/a/**/b*",
    "get",
  ];
  const configs = [JSON.stringify(FULL_CONFIG), JSON.stringify(base), "{}", '{"origins":[]}'];
  for (const p of paths) for (const v of WRONG) configs.push(withValue(p, v));
  for (const p of paths)
    if (p.length > 0) configs.push(withValue([...p.slice(0, -1), "unknownKey"], 1));
  let configsValid = 0;
  for (const json of configs) {
    const a = check.classic(json);
    const b = check.mini(json);
    if (a !== b)
      failures.push(
        `config ${json.slice(0, 120)}…: zod ${a.slice(0, 200)}, zod/mini ${b.slice(0, 200)}`,
      );
    if (a.startsWith("{")) configsValid++;
  }

  // --- the tables ---
  const int = (x: number) => Math.round(x).toLocaleString("en-US");
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const table = (title: string, head: string[], rows: string[][]): void => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (c: string[]) =>
      `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(" | ")} |`;
    console.log(`${title}\n`);
    console.log(line(head));
    console.log(
      `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`,
    );
    for (const r of rows) console.log(line(r));
    console.log("");
  };
  const speedRows = (rows: { figure: string; ours: number; library: number }[]) =>
    rows.map((r) => [r.figure, int(r.ours), int(r.library), `${(r.library / r.ours).toFixed(2)}×`]);

  console.log(`\nbench/libraries.ts — ours (the baseline) against the library, same run\n`);
  table(
    `Node ${process.versions.node}, operations/s (median of ${rounds} alternating rounds of ${roundMs} ms)`,
    ["figure", "ours", "library", "library/ours"],
    speedRows(nodeRows),
  );
  table(
    "workerd (Miniflare), operations/s (timed from outside, request cost subtracted)",
    ["figure", "ours", "library", "library/ours"],
    speedRows(workerdRows),
  );
  console.log(
    `LRU: "ours" is the Map LRU the edge had, "library" is IsolateCache (lru-cache); hit ratio ${(lruHitRatio() * 100).toFixed(1)} % on both.\n`,
  );
  const sizeRow = (
    figure: string,
    o: { min: number; gz: number },
    l: { min: number; gz: number },
  ) => [
    figure,
    `${kib(o.min)} / ${kib(o.gz)}`,
    `${kib(l.min)} / ${kib(l.gz)}`,
    `${l.gz - o.gz >= 0 ? "+" : ""}${kib(l.gz - o.gz)}`,
  ];
  table(
    "Bundle size, minified / gzipped (esbuild with wrangler's resolution; `wrangler deploy` adds a few KiB of its own)",
    ["figure", "ours", "library", "gzip Δ"],
    [
      sizeRow("Structured Fields (module alone)", sizes.sfOurs, sizes.sfLib),
      sizeRow("SHA-256 hex (module alone)", sizes.hashOurs, sizes.hashLib),
      sizeRow("edge LRU (module alone)", sizes.lruOurs, sizes.lruLib),
      sizeRow("the Worker: Map LRU → lru-cache", workerMapLru, workerNow),
      sizeRow("core/config: zod → zod/mini", sizes.configClassic, sizes.configMini),
      sizeRow("the Worker: zod → zod/mini", workerClassic, workerNow),
    ],
  );
  table(
    `Config startup (zod), fresh V8 context, median of ${STARTUP_RUNS}: evaluate core/config, then parse a minimal config`,
    ["figure", "zod", "zod/mini", "mini/zod"],
    [
      [
        "evaluate (build every schema)",
        ms(median(loads.classic)),
        ms(median(loads.mini)),
        `${(median(loads.mini) / median(loads.classic)).toFixed(2)}×`,
      ],
      [
        "first parseConfig",
        ms(median(parses.classic)),
        ms(median(parses.mini)),
        `${(median(parses.mini) / median(parses.classic)).toFixed(2)}×`,
      ],
    ],
  );
  console.log(
    `zod and zod/mini agree on ${configs.length.toLocaleString("en-US")} configs (${configsValid} valid, the rest with the same issues and messages): ${failures.some((f) => f.startsWith("config")) ? "NO" : "yes"}.\n`,
  );
  table(
    "Structured Fields: where the two differ (ours implements RFC 8941; 9651 added Dates, Display Strings)",
    ["input", "RFC", "ours", "structured-headers"],
    conformance(libs).map((c) => [c.input, c.rfc, c.ours, c.library]),
  );
  console.log(
    `The Worker as built now: ${kib(workerNow.min)} minified, ${kib(workerNow.gz)} gzipped (budget 100 KiB).`,
  );
  console.log(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  if (failures.length > 0) {
    process.stderr.write(`\nFAIL: the two sides disagree:\n  ${failures.join("\n  ")}\n`);
    process.exit(1);
  }
}
