/**
 * `npm start` as a newcomer runs it: the demo origin, a shield and the Worker under
 * `wrangler dev`, on free ports. What the printed curl lines promise must hold: AVIF for
 * an AVIF client, WebP for a WebP-only one, the original otherwise, Cache-Status from
 * both tiers; and Ctrl-C stops every process it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
let start: ChildProcess;
let out = "";
let edge = "";
let originStats = "";
let shieldHealth = "";

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

beforeAll(async () => {
  const [o, s, e] = [await freePort(), await freePort(), await freePort()];
  start = spawn(
    process.execPath,
    ["scripts/start.mjs", "--origin-port", `${o}`, "--shield-port", `${s}`, "--edge-port", `${e}`],
    { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  start.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  start.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + 90_000;
  while (!out.includes("stack is up")) {
    if (start.exitCode !== null || Date.now() > deadline) {
      throw new Error(`npm start did not come up:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  edge = `http://127.0.0.1:${e}`;
  originStats = `http://127.0.0.1:${o}/__origin/stats`;
  shieldHealth = `http://127.0.0.1:${s}/__shield/health`;
}, 120_000);

afterAll(async () => {
  if (start !== undefined && start.exitCode === null) start.kill("SIGKILL");
});

describe("npm start", () => {
  it("prints the URLs and curl lines for the three processes", () => {
    expect(out).toContain(`edge Worker    ${edge}`);
    expect(out).toMatch(/curl .* -H 'Accept: image\/avif' .*\/images\/hero\.jpg/);
    expect(out).toContain(originStats);
  });

  it("serves the page through both tiers, then from the edge", async () => {
    const first = await fetch(`${edge}/`);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-status")).toMatch(
      /^shield; fwd=uri-miss.*, edge; fwd=uri-miss/,
    );
    await first.text();
    const second = await fetch(`${edge}/`);
    expect(second.headers.get("cache-status")).toMatch(/edge; hit/);
    await second.text();
  });

  it("negotiates AVIF, WebP and the original, with Cache-Status from both tiers", async () => {
    const cases = [
      { accept: "image/avif", type: "image/avif", format: "heif" },
      { accept: "image/webp", type: "image/webp", format: "webp" },
      { accept: "", type: "image/jpeg", format: "jpeg" },
    ];
    for (const c of cases) {
      const res = await fetch(`${edge}/images/hero.jpg`, { headers: { accept: c.accept } });
      expect(res.headers.get("content-type")).toBe(c.type);
      expect(res.headers.get("cache-status")).toMatch(/^shield; .*, edge; /);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect(meta.format).toBe(c.format);
    }
  });

  it("transforms an image on demand: 480 px AVIF for a client that takes it", async () => {
    expect(out).toMatch(/curl .*\/img\/width=480,format=auto\/images\/hero\.jpg/);
    const url = `${edge}/img/width=480,format=auto/images/hero.jpg`;
    const res = await fetch(url, { headers: { accept: "image/avif,image/webp" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/avif");
    expect(res.headers.get("cache-status")).toMatch(/^shield; fwd=uri-miss.*, edge; /);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["heif", 480, 252]);
    // A WebP-only client gets WebP from the same URL, never the AVIF.
    const webp = await fetch(url, { headers: { accept: "image/webp" } });
    expect(webp.headers.get("content-type")).toBe("image/webp");
    expect((await sharp(Buffer.from(await webp.arrayBuffer())).metadata()).format).toBe("webp");
  });

  it("stops every process it started on Ctrl-C (SIGINT) and exits 0", async () => {
    const exited = new Promise<number | null>((r) => start.once("exit", (code) => r(code)));
    start.kill("SIGINT");
    expect(await exited).toBe(0);
    // Nothing it started is left listening on any of the three ports.
    for (const url of [`${edge}/__edge/health`, shieldHealth, originStats]) {
      expect(await fetch(url).catch(() => null), url).toBeNull();
    }
  }, 20_000);
});
