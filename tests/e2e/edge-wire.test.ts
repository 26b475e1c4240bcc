/**
 * What clients receive on the wire from the real Worker under `wrangler dev` (workerd
 * with the runtime's own front, which shows the Worker `Accept-Encoding: br, gzip` and
 * re-codes responses for the client): each client gets the coding it asked for, from one
 * fetch per coding at the shield, with Content-Length on hits, and ranges of stored
 * copies. The shield here is a loopback server answering as a shield does: br, gzip or
 * identity bytes by Accept-Encoding, with Vary: Accept-Encoding.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { freePort, HOST, processGroup } from "../helpers/processes.ts";

const PLAIN = Buffer.from("a text that a shield keeps in three codings. ".repeat(40));
const CODED = { br: brotliCompressSync(PLAIN), gzip: gzipSync(PLAIN), identity: PLAIN };
const VIDEO = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

let shield: TestOrigin;
let edge: ChildProcess | undefined;
let edgeUrl = "";
let state = "";
const { stop, startEdge } = processGroup();

beforeAll(async () => {
  shield = await startOrigin((req, res) => {
    if (req.url?.startsWith("/video")) {
      res.writeHead(200, {
        "content-type": "video/mp4",
        "cache-control": "public, max-age=300",
        "content-length": String(VIDEO.length),
      });
      res.end(VIDEO);
      return;
    }
    const asked = req.headers["accept-encoding"] ?? "";
    const coding = asked === "br" || asked === "gzip" ? asked : "identity";
    const headers: Record<string, string> = {
      "content-type": "text/plain",
      "cache-control": "public, max-age=300",
      vary: "Accept-Encoding",
    };
    if (coding !== "identity") headers["content-encoding"] = coding;
    if (!req.url?.startsWith("/chunked")) headers["content-length"] = String(CODED[coding].length);
    res.writeHead(200, headers);
    res.end(CODED[coding]);
  });
  const port = await freePort();
  state = mkdtempSync(join(tmpdir(), "edge-wire-"));
  const config = { origins: [{ name: "wire", url: shield.url, hosts: [HOST, "localhost"] }] };
  ({ child: edge, url: edgeUrl } = await startEdge({ port, state, nodes: shield.url, config }));
}, 90_000);

afterAll(async () => {
  await stop(edge);
  await shield?.close();
  if (state !== "") rmSync(state, { recursive: true, force: true });
}, 20_000);

interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A GET with exactly these fields (no Accept-Encoding unless given), bytes as sent. */
function get(path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(`${edgeUrl}${path}`, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function decoded(res: Raw): Buffer {
  const coding = res.headers["content-encoding"];
  if (coding === "br") return brotliDecompressSync(res.body);
  if (coding === "gzip") return gunzipSync(res.body);
  return res.body;
}

describe("content codings on the wire (wrangler dev)", () => {
  it("br, gzip and identity clients each get their coding, one shield fetch per coding, Content-Length on hits", async () => {
    const clients = [
      ["br", { "accept-encoding": "br" }, CODED.br],
      ["gzip", { "accept-encoding": "gzip" }, CODED.gzip],
      [undefined, { "accept-encoding": "identity" }, PLAIN],
    ] as const;
    for (const round of ["miss", "hit"]) {
      for (const [coding, headers, bytes] of clients) {
        const res = await get("/text.txt", headers);
        expect(res.status).toBe(200);
        expect(res.headers["content-encoding"], `${round} ${coding}`).toBe(coding);
        // Byte for byte what the shield sent: never re-coded, never coded twice.
        expect(res.body.equals(bytes), `${round} ${coding}`).toBe(true);
        expect(decoded(res).equals(PLAIN)).toBe(true);
        if (round === "hit") {
          expect(res.headers["cache-status"]).toMatch(/edge; hit/);
          expect(res.headers["content-length"], `hit ${coding}`).toBe(String(bytes.length));
        }
      }
    }
    const asked = shield.requests.filter((r) => r.url === "/text.txt");
    expect(asked.map((r) => r.headers["accept-encoding"])).toEqual(["br", "gzip", "identity"]);
  });

  it("a body that arrived chunked has its Content-Length on hits", async () => {
    await get("/chunked.txt", { "accept-encoding": "identity" });
    const hit = await get("/chunked.txt", { "accept-encoding": "identity" });
    expect(hit.headers["cache-status"]).toMatch(/edge; hit/);
    expect(hit.headers["content-length"]).toBe(String(PLAIN.length));
    expect(hit.body.equals(PLAIN)).toBe(true);
  });

  it("answers a range of a stored video as a 206 with its length (RFC 9110 §14)", async () => {
    const player = { "accept-encoding": "identity;q=1, *;q=0" };
    const first = await get("/video.mp4", { ...player, range: "bytes=0-99" });
    expect(first.status).toBe(206);
    expect(first.body.equals(VIDEO.subarray(0, 100))).toBe(true);
    const part = await get("/video.mp4", { ...player, range: "bytes=900-" });
    expect(part.status).toBe(206);
    expect(part.headers["cache-status"]).toMatch(/edge; hit/);
    expect(part.headers["content-range"]).toBe("bytes 900-999/1000");
    expect(part.headers["content-length"]).toBe("100");
    expect(part.body.equals(VIDEO.subarray(900))).toBe(true);
    expect(shield.requests.filter((r) => r.url === "/video.mp4")).toHaveLength(1);
  });

  it("a range of a coded body reaches a gzip-only client as gzip bytes, a Chrome client gets the whole", async () => {
    const gzipOnly = await get("/text.txt", { "accept-encoding": "gzip", range: "bytes=0-9" });
    expect(gzipOnly.status).toBe(206);
    expect(gzipOnly.headers["content-encoding"]).toBe("gzip");
    expect(gzipOnly.body.equals(CODED.gzip.subarray(0, 10))).toBe(true);
    const chrome = await get("/text.txt", {
      "accept-encoding": "gzip, deflate, br, zstd",
      range: "bytes=0-9",
    });
    expect(chrome.status).toBe(200);
    expect(decoded(chrome).equals(PLAIN)).toBe(true);
  });
});
