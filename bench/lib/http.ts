/** Small node:http helpers for the shield benchmarks (loopback only). */
import { type Agent, request } from "node:http";

export interface Got {
  readonly status: number;
  /** Raw [name, value, …] as received. */
  readonly rawHeaders: string[];
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One GET, the whole body read. */
export function get(
  url: string,
  agent?: Agent,
  headers: Readonly<Record<string, string>> = {},
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          rawHeaders: res.rawHeaders,
          headers: res.headers,
          body: Buffer.concat(chunks),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

export async function getJson<T>(url: string): Promise<T> {
  const r = await get(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
  return JSON.parse(r.body.toString()) as T;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
