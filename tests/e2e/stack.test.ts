/**
 * End to end, as users run it: the real Worker under `wrangler dev` (workerd), a real
 * shield process (the bundle `npm run shield` runs), and a loopback origin that counts
 * requests. Checks that Cache-Status shows both tiers, that a second request is an edge
 * hit, and that image variants negotiated at the edge are never cross-served.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildNode } from "../../scripts/build-node.mjs";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { freePort, HOST, processGroup } from "../helpers/processes.ts";

let origin: TestOrigin;
let shield: ChildProcess | undefined;
let edge: ChildProcess | undefined;
let edgeUrl = "";
let state = "";
const { launch, ready, stop, startEdge } = processGroup();

const FORMATS = { avif: "image/avif", webp: "image/webp", jpeg: "image/jpeg" } as const;

beforeAll(async () => {
  origin = await startOrigin((req, res) => {
    const url = req.url ?? "/";
    if (url.startsWith("/images/")) {
      const accept = req.headers.accept ?? "";
      const format = accept.includes("image/avif")
        ? "avif"
        : accept.includes("image/webp")
          ? "webp"
          : "jpeg";
      res.writeHead(200, {
        "content-type": FORMATS[format],
        "cache-control": "public, max-age=300",
        vary: "Accept",
      });
      res.end(`${format} bytes of ${url}`);
      return;
    }
    res.writeHead(200, { "content-type": "text/html", "cache-control": "public, max-age=300" });
    res.end(`<p>page ${url}</p>`);
  });
  const [shieldPort, edgePort] = [await freePort(), await freePort()];
  const bundle = await buildNode("origin-shield/main.ts", "dist/e2e/shield.mjs");
  shield = launch("shield", process.execPath, [
    bundle,
    "--origin",
    origin.url,
    "--port",
    String(shieldPort),
    "--log-level",
    "warn",
  ]);
  await ready(`http://${HOST}:${shieldPort}/__shield/health`, shield, "shield", 20_000);

  state = mkdtempSync(join(tmpdir(), "edge-e2e-"));
  const config = { origins: [{ name: "e2e", url: origin.url, hosts: [HOST, "localhost"] }] };
  ({ child: edge, url: edgeUrl } = await startEdge({
    port: edgePort,
    state,
    nodes: `http://${HOST}:${shieldPort}`,
    config,
  }));
}, 90_000);

afterAll(async () => {
  await Promise.all([stop(edge), stop(shield)]);
  await origin?.close();
  if (state !== "") rmSync(state, { recursive: true, force: true });
}, 20_000);

describe("edge → shield → origin, as real processes", () => {
  it("a miss shows both tiers in Cache-Status, and the second request is an edge hit", async () => {
    const first = await fetch(`${edgeUrl}/page?utm_source=mail`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("<p>page /page</p>");
    const miss = first.headers.get("cache-status") ?? "";
    // Origin side first (RFC 9211): the shield's member, then the edge's.
    expect(miss).toMatch(/^shield; fwd=uri-miss; fwd-status=200; stored, edge; fwd=uri-miss/);
    expect(miss).toContain("edge; fwd=uri-miss; fwd-status=200; stored");

    const second = await fetch(`${edgeUrl}/page`);
    expect(await second.text()).toBe("<p>page /page</p>");
    expect(second.headers.get("cache-status")).toMatch(/edge; hit; ttl=\d+$/);
    // The tracking parameter never reached the origin, and it was asked once.
    expect(origin.requests.filter((r) => r.url.startsWith("/page"))).toHaveLength(1);
    expect(origin.requests[0]?.url).toBe("/page");
  });

  it("serves AVIF, WebP and the original to the clients that accept each, never crossed", async () => {
    const ask = async (accept: string | null) => {
      const headers: Record<string, string> = accept === null ? {} : { accept };
      const res = await fetch(`${edgeUrl}/images/hero.jpg`, { headers });
      return {
        type: res.headers.get("content-type"),
        vary: res.headers.get("vary") ?? "",
        status: res.headers.get("cache-status") ?? "",
        body: await res.text(),
      };
    };
    const avifClient = "image/avif,image/webp,image/*,*/*;q=0.8";
    const webpClient = "image/webp,*/*";
    for (let round = 0; round < 2; round++) {
      const avif = await ask(avifClient);
      const webp = await ask(webpClient);
      const plain = await ask(null);
      expect([avif.type, webp.type, plain.type]).toEqual([
        "image/avif",
        "image/webp",
        "image/jpeg",
      ]);
      expect(avif.body).toBe("avif bytes of /images/hero.jpg");
      expect(webp.body).toBe("webp bytes of /images/hero.jpg");
      expect(plain.body).toBe("jpeg bytes of /images/hero.jpg");
      for (const r of [avif, webp, plain]) {
        expect(r.vary.toLowerCase()).toContain("accept");
        expect(r.status).toMatch(round === 0 ? /^shield; .*, edge; fwd=uri-miss/ : /edge; hit/);
      }
    }
    // One origin request per variant.
    expect(origin.requests.filter((r) => r.url.startsWith("/images/"))).toHaveLength(3);
  });
});
