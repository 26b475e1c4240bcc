/**
 * The demo origin that `npm start` puts behind the shield and the edge Worker.
 *
 * A deliberately plain `node:http` server: every route sends the cache headers a real
 * site would, so each CDN feature has something to act on — ETag/304 revalidation,
 * stale-while-revalidate and stale-if-error, CDN-Cache-Control, a private response that
 * must never be shared, Surrogate-Key tags for purging, a slow route to watch request
 * collapsing, and images that the origin itself negotiates by `Accept` (`Vary: Accept`).
 * With `--jpeg-only` it has only the JPEG and PNG originals, as most sites do, so that
 * what AVIF and WebP clients get is the CDN's own conversion.
 * `GET /__origin/stats` counts the requests that got this far, which is how a user (or a
 * test) sees what the caches in front of it absorbed.
 *
 *   tsx examples/demo-origin.ts [--port 9000] [--host 127.0.0.1] [--jpeg-only]
 */

import { createHash, randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { parseAccept, qualityOf } from "../core/http/accept.ts";
import { formatHttpDate, parseHttpDate } from "../core/http/dates.ts";
import { parseETag, parseETagList, weakMatch } from "../core/http/etag.ts";

export const DEFAULT_PORT = 9000;
export const DEFAULT_HOST = "127.0.0.1";
/** Upper bound of `/slow?ms=`: a demo must not let one request hold a socket for minutes. */
export const MAX_SLOW_MS = 10_000;
const DEFAULT_SLOW_MS = 1000;
/** Distinct paths counted by name; the rest share one bucket, so junk paths cannot grow memory. */
const MAX_COUNTED_PATHS = 256;
const OTHER_PATHS = "(other)";

export interface DemoOriginOptions {
  /** TCP port; 0 picks a free one (the chosen port is in `url`). Default 9000. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /**
   * Serve every image as its JPEG or PNG original whatever the client accepts, with no
   * `Vary: Accept`: an origin without AVIF or WebP, whose images the CDN converts.
   * Default false.
   */
  jpegOnly?: boolean;
}

export interface DemoOrigin {
  /** Base URL with the real port, e.g. `http://127.0.0.1:9000`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Images, generated at startup so that no binary file lives in the repository.

type ImageFormat = "jpeg" | "png" | "webp" | "avif";

interface ImageSpec {
  name: string;
  format: "jpeg" | "png";
  width: number;
  height: number;
  from: string;
  to: string;
  label: string;
}

export const IMAGES: readonly ImageSpec[] = [
  {
    name: "hero.jpg",
    format: "jpeg",
    width: 1200,
    height: 630,
    from: "#ff6a00",
    to: "#7b2ff7",
    label: "edge-cdn",
  },
  {
    name: "card.jpg",
    format: "jpeg",
    width: 640,
    height: 400,
    from: "#00b4db",
    to: "#0083b0",
    label: "cached at the edge",
  },
  {
    name: "logo.png",
    format: "png",
    width: 256,
    height: 256,
    from: "#11998e",
    to: "#38ef7d",
    label: "CDN",
  },
];

interface ImageVariant {
  body: Buffer;
  contentType: string;
  etag: string;
}

type ImageSet = Map<string, Record<ImageFormat | "original", ImageVariant>>;

function svgFor(spec: ImageSpec): Buffer {
  const { width: w, height: h } = spec;
  const fontSize = Math.round(Math.min(w / (spec.label.length * 0.62), h / 3));
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
      <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
        <stop offset="0" stop-color="${spec.from}"/><stop offset="1" stop-color="${spec.to}"/>
      </linearGradient></defs>
      <rect width="100%" height="100%" fill="url(#g)"/>
      <circle cx="${w * 0.78}" cy="${h * 0.3}" r="${Math.min(w, h) * 0.2}" fill="#fff" fill-opacity="0.3"/>
      <text x="50%" y="62%" text-anchor="middle" font-family="sans-serif" font-weight="bold"
        font-size="${fontSize}" fill="#fff">${spec.label}</text>
    </svg>`,
  );
}

const MEDIA_TYPES: Record<ImageFormat, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
};

function variant(format: ImageFormat, body: Buffer): ImageVariant {
  // A strong validator per variant: the AVIF, WebP and original bytes differ, so their
  // ETags must too, or a cache could answer one client's revalidation with another's bytes.
  return { body, contentType: MEDIA_TYPES[format], etag: `"${format}-${digest(body)}"` };
}

async function renderImage(
  spec: ImageSpec,
): Promise<Record<ImageFormat | "original", ImageVariant>> {
  const raster = await sharp({
    create: { width: spec.width, height: spec.height, channels: 3, background: spec.to },
  })
    .composite([{ input: svgFor(spec) }])
    .png()
    .toBuffer();
  const [jpeg, png, webp, avif] = await Promise.all([
    sharp(raster).jpeg({ quality: 82, mozjpeg: true }).toBuffer(),
    sharp(raster).png({ compressionLevel: 9 }).toBuffer(),
    sharp(raster).webp({ quality: 75 }).toBuffer(),
    // AVIF at the default effort 4 costs over a second per large image; effort 2 keeps
    // startup fast at a small cost in size.
    sharp(raster).avif({ quality: 50, effort: 2 }).toBuffer(),
  ]);
  const v = {
    jpeg: variant("jpeg", jpeg),
    png: variant("png", png),
    webp: variant("webp", webp),
    avif: variant("avif", avif),
  };
  return { ...v, original: v[spec.format] };
}

let imagesOnce: Promise<ImageSet> | undefined;

/** Renders every image once per process; servers started later (tests) share the bytes. */
function images(): Promise<ImageSet> {
  imagesOnce ??= (async () => {
    // sharp runs one libvips thread by default here; the startup encode wants them all.
    sharp.concurrency(availableParallelism());
    const rendered = await Promise.all(IMAGES.map(renderImage));
    return new Map(IMAGES.map((spec, i) => [spec.name, rendered[i]!]));
  })();
  return imagesOnce;
}

/**
 * The origin's own negotiation, the same rule as the CDN's (core/variant): AVIF or WebP
 * only when the client names it explicitly with q > 0 (`image/*` and `*\/*` do not count:
 * old browsers send them and cannot decode either); the higher q wins, AVIF on a tie.
 */
export function pickImageFormat(accept: string | undefined): "avif" | "webp" | "original" {
  const ranges = parseAccept(accept);
  const avif = qualityOf(ranges, "image", "avif", { explicitOnly: true });
  const webp = qualityOf(ranges, "image", "webp", { explicitOnly: true });
  if (avif > 0 && avif >= webp) return "avif";
  if (webp > 0) return "webp";
  return "original";
}

// ---------------------------------------------------------------------------------------
// Responses

function digest(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("base64url").slice(0, 22);
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
  /** A formatted entity-tag; enables If-None-Match. */
  etag?: string;
  /** Milliseconds, whole seconds; enables If-Modified-Since. */
  lastModified?: number;
}

/** Whether a GET/HEAD request's validators match (RFC 9110 §13.1.2, §13.1.3, §13.2.2). */
function notModified(req: IncomingMessage, reply: Reply): boolean {
  if (reply.status !== 200) return false;
  const inm = req.headers["if-none-match"];
  if (inm !== undefined) {
    // If-None-Match uses the weak comparison, and when present If-Modified-Since is ignored.
    if (reply.etag === undefined) return false;
    const list = parseETagList(inm);
    if (list === "*") return true;
    const own = parseETag(reply.etag);
    return own !== null && list.some((t) => weakMatch(t, own));
  }
  const ims = req.headers["if-modified-since"];
  if (ims !== undefined && reply.lastModified !== undefined) {
    const since = parseHttpDate(ims);
    return since !== null && reply.lastModified <= since;
  }
  return false;
}

// Fields a 304 repeats (RFC 9110 §15.4.5): the ones a cache needs to refresh its entry.
const NOT_MODIFIED_FIELDS = new Set([
  "cache-control",
  "cdn-cache-control",
  "content-location",
  "etag",
  "expires",
  "last-modified",
  "vary",
  "surrogate-key",
]);

class Stats {
  readonly since = new Date().toISOString();
  total = 0;
  notModified = 0;
  paths = new Map<string, number>();

  record(path: string): number {
    this.total++;
    const key =
      this.paths.has(path) || this.paths.size < MAX_COUNTED_PATHS
        ? path.slice(0, 200)
        : OTHER_PATHS;
    const n = (this.paths.get(key) ?? 0) + 1;
    this.paths.set(key, n);
    return n;
  }

  reset(): void {
    this.total = 0;
    this.notModified = 0;
    this.paths.clear();
  }

  toJSON() {
    return {
      total: this.total,
      notModified: this.notModified,
      paths: Object.fromEntries(this.paths),
      since: this.since,
    };
  }
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function errorReply(status: number, error: string, message: string): Reply {
  // An error that depends on the request alone must not be kept by a cache.
  return {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: json({ error, message }),
  };
}

// ---------------------------------------------------------------------------------------
// Routes

interface Context {
  req: IncomingMessage;
  path: string;
  query: URLSearchParams;
  /** How many requests for this path reached the origin, this one included. */
  served: number;
  images: ImageSet;
  startedAt: number;
  home: Reply;
  jpegOnly: boolean;
}

function homePage(startedAt: number, jpegOnly: boolean): Reply {
  const imgs = IMAGES.map(
    (i) =>
      `      <figure><img src="/images/${i.name}" width="${Math.min(i.width, 400)}" alt="${i.label}"><figcaption><a href="/images/${i.name}">/images/${i.name}</a></figcaption></figure>`,
  ).join("\n");
  const body = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>edge-cdn demo origin</title>
    <style>
      body { font: 16px/1.5 system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; }
      code { background: #f3f3f3; padding: 0 .25rem; }
      figure { display: inline-block; margin: 0 1rem 1rem 0; }
      img { display: block; height: auto; max-width: 100%; }
    </style>
  </head>
  <body>
    <h1>edge-cdn demo origin</h1>
    <p>Every route sends the cache headers a real site would. Compare the
      <code>Cache-Status</code> header through the edge with <a href="/__origin/stats">/__origin/stats</a>,
      which counts the requests that reached this origin.</p>
    <ul>
      <li><a href="/">/</a>: this page, <code>max-age=60, stale-while-revalidate=30</code>, ETag → 304</li>
      <li><a href="/api/time">/api/time</a>: <code>max-age=5</code>, stale windows, <code>CDN-Cache-Control: max-age=10</code></li>
      <li><a href="/api/user">/api/user</a>: <code>private, no-store</code> and a cookie: never cached</li>
      <li><a href="/api/tagged">/api/tagged</a>: <code>Surrogate-Key: demo api</code>, <code>max-age=300</code>, purge by tag</li>
      <li><a href="/api/catalog">/api/catalog</a>: a 38 KiB JSON listing sent uncompressed; the CDN compresses it (br or gzip) and this page too</li>
      <li><a href="/slow?ms=2000">/slow?ms=2000</a>: answers after 2 s (at most ${MAX_SLOW_MS} ms), <code>max-age=30</code>: watch collapsing</li>
      <li><a href="/__origin/stats">/__origin/stats</a>: requests per path</li>
    </ul>
    <p>Images: ${
      jpegOnly
        ? "JPEG and PNG only, whatever <code>Accept</code> says: AVIF and WebP are the CDN's conversions."
        : "AVIF or WebP when <code>Accept</code> names them, else the original; <code>Vary: Accept</code>."
    }</p>
${imgs}
    <p><small>Origin started ${new Date(startedAt).toISOString()}.</small></p>
  </body>
</html>
`;
  return {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "public, max-age=60, stale-while-revalidate=30",
    },
    body,
    etag: `"${digest(body)}"`,
    lastModified: startedAt,
  };
}

function apiTime(ctx: Context): Reply {
  const now = Date.now();
  const body = json({ now: new Date(now).toISOString(), served: ctx.served });
  return {
    status: 200,
    headers: {
      "content-type": "application/json",
      "cache-control": "public, max-age=5, stale-while-revalidate=10, stale-if-error=60",
      // RFC 9213: CDNs keep it for 10 s while browsers are told 5 s.
      "cdn-cache-control": "max-age=10",
    },
    body,
    etag: `"${digest(body)}"`,
    lastModified: Math.floor(now / 1000) * 1000,
  };
}

function apiUser(): Reply {
  const session = randomBytes(12).toString("hex");
  return {
    status: 200,
    headers: {
      "content-type": "application/json",
      // Per-user data: a shared cache that stored this would hand one user's data to another.
      "cache-control": "private, no-store",
      "set-cookie": `demo_session=${session}; Path=/; HttpOnly; SameSite=Lax`,
    },
    body: json({ user: "demo", session, note: "private, no-store: never cached by the CDN" }),
  };
}

/**
 * A product listing of about 38 KiB, built once: a JSON document as APIs send it,
 * uncompressed, for the shield to compress (br or gzip by Accept-Encoding) and store
 * once per coding.
 */
const catalog: Reply = (() => {
  const kinds = ["lamp", "chair", "table", "shelf", "rug", "mirror", "vase", "clock"];
  const items = Array.from({ length: 160 }, (_, i) => ({
    id: 1000 + i,
    sku: `SKU-${String((i * 7919) % 100000).padStart(5, "0")}`,
    name: `${kinds[i % kinds.length]} no. ${i}`,
    price: { amount: Math.round(i * 731) / 100 + 9.99, currency: "EUR" },
    stock: (i * 13) % 40,
    tags: ["home", i % 2 === 0 ? "new" : "sale"],
  }));
  const body = json({ items, total: items.length });
  return {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "public, max-age=300" },
    body,
    etag: `"${digest(body)}"`,
  };
})();

function apiTagged(ctx: Context): Reply {
  const body = json({
    tags: ["demo", "api"],
    generatedAt: new Date().toISOString(),
    served: ctx.served,
    hint: "purge by tag 'demo' or 'api' to refetch",
  });
  return {
    status: 200,
    headers: {
      "content-type": "application/json",
      "cache-control": "public, max-age=300",
      "surrogate-key": "demo api",
    },
    body,
    etag: `"${digest(body)}"`,
  };
}

function image(ctx: Context, name: string): Reply | null {
  const set = ctx.images.get(name);
  if (set === undefined) return null;
  const v = ctx.jpegOnly ? set.original : set[pickImageFormat(ctx.req.headers.accept)];
  const headers: Record<string, string> = {
    "content-type": v.contentType,
    "cache-control": "public, max-age=86400",
  };
  // Every negotiated response depends on Accept, the original included: a cache that
  // ignored Vary would hand the JPEG to an AVIF client or, worse, AVIF to an old one.
  if (!ctx.jpegOnly) headers.vary = "Accept";
  return {
    status: 200,
    headers,
    body: v.body,
    etag: v.etag,
    lastModified: ctx.startedAt,
  };
}

/** Parses `/slow?ms=`; returns the delay or an error reply. */
function slowDelay(query: URLSearchParams): number | Reply {
  const raw = query.get("ms");
  if (raw === null) return DEFAULT_SLOW_MS;
  // Digits only, and few of them: "1e9", "-1", " 5" and 400-digit numbers are all refused.
  if (!/^\d{1,6}$/.test(raw) || Number(raw) > MAX_SLOW_MS) {
    return errorReply(400, "bad_ms", `ms must be an integer from 0 to ${MAX_SLOW_MS}`);
  }
  return Number(raw);
}

function notFound(): Reply {
  return {
    status: 404,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      // Short, so that a mistyped link does not hit the origin on every request, and a
      // page published later shows up within seconds.
      "cache-control": "public, max-age=10",
    },
    body: "404 Not Found\n",
  };
}

// ---------------------------------------------------------------------------------------
// Server

function send(req: IncomingMessage, res: ServerResponse, reply: Reply, stats: Stats): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.etag !== undefined) headers.etag = reply.etag;
  if (reply.lastModified !== undefined)
    headers["last-modified"] = formatHttpDate(reply.lastModified);
  headers["x-content-type-options"] = "nosniff";
  if ((req.method === "GET" || req.method === "HEAD") && notModified(req, reply)) {
    stats.notModified++;
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (NOT_MODIFIED_FIELDS.has(k)) kept[k] = v;
    res.writeHead(304, kept);
    res.end();
    return;
  }
  headers["content-length"] = String(Buffer.byteLength(reply.body));
  res.writeHead(reply.status, headers);
  // Node drops the body of a response to HEAD, keeping Content-Length.
  res.end(reply.body);
}

export async function startDemoOrigin(options: DemoOriginOptions = {}): Promise<DemoOrigin> {
  const port = options.port ?? DEFAULT_PORT;
  const host = options.host ?? DEFAULT_HOST;
  const imageSet = await images();
  // Whole seconds: Last-Modified has no finer resolution, and If-Modified-Since compares to it.
  const startedAt = Math.floor(Date.now() / 1000) * 1000;
  const jpegOnly = options.jpegOnly === true;
  const home = homePage(startedAt, jpegOnly);
  const stats = new Stats();
  const timers = new Set<NodeJS.Timeout>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const target = req.url ?? "";
    // Only origin-form targets ("/path?query"). Parsing "//host/x" with new URL would
    // read it as a host, and "*" or absolute-form are not for an origin server.
    if (!target.startsWith("/") || target.startsWith("//")) {
      send(req, res, errorReply(400, "bad_target", "request target must be a path"), stats);
      return;
    }
    const q = target.indexOf("?");
    const path = q === -1 ? target : target.slice(0, q);
    const query = new URLSearchParams(q === -1 ? "" : target.slice(q + 1));

    if (path === "/__origin/stats") {
      if (req.method === "DELETE") {
        stats.reset();
        res.writeHead(204, { "cache-control": "no-store" }).end();
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD, DELETE" }).end();
        return;
      }
      // Not counted: reading the counters must not change them.
      send(
        req,
        res,
        {
          status: 200,
          headers: { "content-type": "application/json", "cache-control": "no-store" },
          body: json(stats),
        },
        stats,
      );
      return;
    }

    const served = stats.record(path);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-length": "0" }).end();
      return;
    }
    const ctx: Context = {
      req,
      path,
      query,
      served,
      images: imageSet,
      startedAt,
      home,
      jpegOnly,
    };

    if (path === "/slow") {
      const ms = slowDelay(query);
      if (typeof ms !== "number") {
        send(req, res, ms, stats);
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(
          req,
          res,
          {
            status: 200,
            headers: { "content-type": "application/json", "cache-control": "public, max-age=30" },
            body: json({ delayedMs: ms, served, at: new Date().toISOString() }),
          },
          stats,
        );
      }, ms);
      timers.add(timer);
      // A client that gives up frees its timer instead of leaving it to fire into a dead socket.
      res.on("close", () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
      return;
    }

    let reply: Reply | null;
    if (path === "/" || path === "/index.html") reply = ctx.home;
    else if (path === "/api/time") reply = apiTime(ctx);
    else if (path === "/api/user") reply = apiUser();
    else if (path === "/api/tagged") reply = apiTagged(ctx);
    else if (path === "/api/catalog") reply = catalog;
    else if (path.startsWith("/images/")) reply = image(ctx, path.slice("/images/".length));
    else reply = null;
    send(req, res, reply ?? notFound(), stats);
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      // A demo must never die on one bad request; say what broke instead.
      console.error("demo origin: request failed:", err);
      if (!res.headersSent) send(req, res, errorReply(500, "internal", "internal error"), stats);
      else res.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        // Idle keep-alive sockets would otherwise hold close() open for seconds.
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: tsx examples/demo-origin.ts [--port N] [--host H] [--jpeg-only]

The demo origin for the edge-cdn local stack (npm start).

Options:
  --port N   TCP port to listen on, 0 for any free port (default ${DEFAULT_PORT})
  --host H   interface to bind (default ${DEFAULT_HOST})
  --jpeg-only  serve only the JPEG and PNG originals, whatever Accept says (no
             Vary: Accept), so that AVIF and WebP come from the CDN's conversion
  --help     show this help

Routes: /  /api/time  /api/user  /api/tagged  /images/{${IMAGES.map((i) => i.name).join(",")}}
        /slow?ms=N (N ≤ ${MAX_SLOW_MS})  /__origin/stats (GET counters, DELETE resets)`;

async function main(argv: string[]): Promise<void> {
  let values: { port?: string; host?: string; "jpeg-only"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "jpeg-only": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`demo origin: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!/^\d{1,5}$/.test(values.port ?? "0") || port > 65535) {
    console.error(`demo origin: --port must be an integer from 0 to 65535, got "${values.port}"`);
    process.exit(2);
  }
  const host = values.host ?? DEFAULT_HOST;
  const t0 = performance.now();
  let origin: DemoOrigin;
  try {
    origin = await startDemoOrigin({ port, host, jpegOnly: values["jpeg-only"] === true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "EADDRINUSE" ? "address already in use" : e.message;
    console.error(`demo origin: cannot listen on ${host}:${port}: ${why}`);
    process.exit(1);
  }
  const ms = Math.round(performance.now() - t0);
  const only = values["jpeg-only"] === true ? ", JPEG and PNG only" : "";
  console.log(
    `demo origin listening on ${origin.url} (${IMAGES.length} images ready in ${ms} ms${only})`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`demo origin: ${signal}, closing`);
    origin.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) await main(process.argv.slice(2));
