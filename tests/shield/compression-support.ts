/**
 * Shared set-up for the compression tests: a real shield listening on loopback, read
 * with node:http so that bodies arrive exactly as sent (fetch would decode them), and
 * bodies like the ones a site serves.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import type { TestShield } from "../helpers/shield.ts";

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as sent, still encoded. */
  readonly body: Buffer;
}

/** One request on loopback; the body is read whole, undecoded. */
export function raw(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method, headers: { host: "example.com", ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The body decoded by its Content-Encoding. */
export function decode(res: RawResponse): Buffer {
  const coding = res.headers["content-encoding"];
  if (coding === "br") return brotliDecompressSync(res.body);
  if (coding === "gzip") return gunzipSync(res.body);
  if (coding === undefined) return res.body;
  throw new Error(`unexpected content-encoding ${coding}`);
}

/** A counter of the shield's registry, by its labels (0 when never counted). */
export async function counter(
  t: TestShield,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = t.shield.context.metrics.registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  const hit = values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return hit?.value ?? 0;
}

export const compressed = (t: TestShield, coding: string, result: string) =>
  counter(t, "shield_compression_total", { coding, result });

/** An HTML page of about `kib` KiB, as a CMS writes one: repeated markup, varied text. */
export function htmlPage(kib = 24): Buffer {
  const parts: string[] = [
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>",
    '<link rel=stylesheet href="/assets/site.css"></head><body><main>',
  ];
  let i = 0;
  while (parts.join("").length < kib * 1024) {
    parts.push(
      `<article class="product" data-id="${1000 + i}"><h2>Product ${i} — ${["lamp", "chair", "table", "shelf", "rug"][i % 5]}</h2>`,
      `<p class="price">€${(i * 7.31).toFixed(2)}</p><p>Hand-made item number ${i}, shipped within ${(i % 9) + 1} days.</p>`,
      `<a href="/products/${1000 + i}" class="button">View</a></article>`,
    );
    i++;
  }
  parts.push("</main></body></html>");
  return Buffer.from(parts.join("\n"));
}

/** A JSON document of about `kib` KiB: an API listing. */
export function jsonDocument(kib = 16): Buffer {
  const items: unknown[] = [];
  let i = 0;
  while (JSON.stringify(items).length < kib * 1024) {
    items.push({
      id: i,
      sku: `SKU-${(i * 7919) % 100000}`,
      name: `Item ${i}`,
      stock: (i * 13) % 40,
      tags: ["home", i % 2 ? "sale" : "new"],
    });
    i++;
  }
  return Buffer.from(JSON.stringify({ items, total: items.length }));
}
