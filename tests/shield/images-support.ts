/**
 * Shared helpers for the image-transform tests at the shield (images.test.ts and
 * images-errors.test.ts): an origin that serves images by path, the transform counter,
 * a request read to the end, and what a returned image decodes to.
 */
import sharp from "sharp";
import { type OriginHandler, sleep } from "../helpers/origin.ts";
import type { TestShield } from "../helpers/shield.ts";

export interface Served {
  body: Buffer;
  /** Content-Type; image/jpeg when not given. */
  type?: string;
  /** Cache-Control; "public, max-age=600" when not given. */
  cacheControl?: string;
  etag?: string;
  /** More response headers (e.g. surrogate-key). */
  headers?: Record<string, string>;
  /** Sent chunked, without Content-Length. */
  chunked?: boolean;
  status?: number;
}

/**
 * Serves `files` by path (404 otherwise), cacheable for 10 minutes unless `cacheControl`
 * says otherwise; a matching If-None-Match gets a 304.
 */
export function imageOrigin(files: Record<string, Served>, delayMs = 0): OriginHandler {
  return async (req, res) => {
    if (delayMs > 0) await sleep(delayMs);
    const f = files[new URL(req.url ?? "/", "http://o").pathname];
    if (f === undefined) {
      res.writeHead(404, { "content-type": "text/plain", "cache-control": "max-age=60" });
      res.end("not here");
      return;
    }
    const headers: Record<string, string> = {
      "cache-control": f.cacheControl ?? "public, max-age=600",
      ...(f.etag === undefined ? {} : { etag: f.etag }),
      ...f.headers,
    };
    if (f.etag !== undefined && req.headers["if-none-match"] === f.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(f.status ?? 200, {
      ...headers,
      "content-type": f.type ?? "image/jpeg",
      ...(f.chunked ? {} : { "content-length": String(f.body.length) }),
    });
    if (f.chunked) {
      for (let at = 0; at < f.body.length; at += 4096) res.write(f.body.subarray(at, at + 4096));
      res.end();
    } else res.end(f.body);
  };
}

/** One sample of shield_image_transforms_total (0 when the label was never counted). */
export async function transforms(t: TestShield, result = "ok"): Promise<number> {
  const text = await (await t.shield.app.request("http://example.com/__shield/metrics")).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`shield_image_transforms_total{result="${result}"} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

/** A request through the shield, its body read to the end, with its Cache-Status. */
export async function get(t: TestShield, path: string, init: RequestInit = {}) {
  const res = await t.request(path, init);
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body, status: res.status, cs: res.headers.get("cache-status") ?? "" };
}

/** What an encoded image decodes to: its format and size. */
export async function decoded(body: Buffer) {
  const m = await sharp(body).metadata();
  return { format: m.format, width: m.width, height: m.height };
}

/** The decoded width of an encoded image. */
export async function width(body: Buffer): Promise<number | undefined> {
  return (await decoded(body)).width;
}
