/**
 * A shield with a disk tier, through its app factory and a loopback origin: a restarted
 * node is warm; a body too large for memory is stored on disk and streamed from it,
 * ranges included; one under 1 MiB is read whole on each hit, and a file damaged after
 * its head was remembered is still never served; a damaged file is never served; a disk
 * that fails leaves the node serving from memory and says so.
 */
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";

const BIG = Buffer.alloc(3 * 1024 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7 + (i >> 11)) & 0xff;
/** Over the memory tier's bound in these cases, under the 1 MiB read whole per hit. */
const MID = BIG.subarray(0, 100 * 1024);

let dir = "";
let origin: TestOrigin | undefined;
const shields: TestShield[] = [];

async function setUp(): Promise<TestOrigin> {
  dir = mkdtempSync(join(tmpdir(), "shield-disk-"));
  origin = await startOrigin((req, res) => {
    const bytes = req.url === "/big" ? BIG : req.url === "/mid" ? MID : null;
    res.writeHead(200, {
      "content-type": bytes !== null ? "application/octet-stream" : "text/plain",
      "cache-control": "public, max-age=600",
    });
    res.end(bytes ?? `body of ${req.url}`);
  });
  return origin;
}

function node(from: TestOrigin, memoryObjectBytes = 1024 * 1024): TestShield {
  const t = testShield(from.url, {
    shield: {
      memory: { maxBytes: 8 * 1024 * 1024, maxObjectBytes: memoryObjectBytes },
      disk: { dir, maxBytes: 64 * 1024 * 1024 },
    },
  });
  shields.push(t);
  return t;
}

async function get(t: TestShield, path: string, headers: Record<string, string> = {}) {
  const res = await t.request(path, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, cacheStatus: res.headers.get("cache-status") ?? "", res };
}

/** Every record file under the tier's directory (not its temp folder). */
function recordFiles(): string[] {
  const out: string[] = [];
  for (const sub of readdirSync(dir)) {
    if (sub === "tmp") continue;
    const path = join(dir, sub);
    if (!statSync(path).isDirectory()) continue;
    for (const f of readdirSync(path)) out.push(join(path, f));
  }
  return out;
}

afterEach(async () => {
  for (const t of shields.splice(0)) await t.close();
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the disk tier", () => {
  it("a restarted node is warm: what it stored before is a disk hit, then a memory hit", async () => {
    const from = await setUp();
    const first = node(from);
    expect((await get(first, "/page")).body.toString()).toBe("body of /page");
    await first.close();
    shields.length = 0;

    const second = node(from);
    const hit = await get(second, "/page");
    expect(hit.body.toString()).toBe("body of /page");
    expect(hit.cacheStatus).toMatch(/^shield; hit.*detail=disk/);
    const again = await get(second, "/page");
    expect(again.cacheStatus).toMatch(/^shield; hit/);
    expect(again.cacheStatus).not.toContain("disk");
    expect(from.count()).toBe(1);
  });

  it("a body too large for memory is stored on disk and streamed from it, ranges included", async () => {
    const from = await setUp();
    const t = node(from, 64 * 1024);
    expect((await get(t, "/big")).body.equals(BIG)).toBe(true);
    await t.shield.drain();
    const hit = await get(t, "/big");
    expect(hit.cacheStatus).toMatch(/^shield; hit.*detail=disk/);
    expect(hit.res.headers.get("content-length")).toBe(String(BIG.length));
    expect(hit.body.equals(BIG)).toBe(true);
    const part = await get(t, "/big", { range: "bytes=1000000-1000099" });
    expect(part.status).toBe(206);
    expect(part.res.headers.get("content-range")).toBe(`bytes 1000000-1000099/${BIG.length}`);
    expect(part.body.equals(BIG.subarray(1_000_000, 1_000_100))).toBe(true);
    // Never held in memory: the memory tier has nothing of it.
    expect(t.shield.context.tiers.memory.entries).toBe(0);
    expect(from.count()).toBe(1);
  });

  it("a body over memory's bound but under 1 MiB is read whole per hit; damage is still found", async () => {
    const from = await setUp();
    const t = node(from, 64 * 1024);
    expect((await get(t, "/mid")).body.equals(MID)).toBe(true);
    await t.shield.drain();
    for (let round = 0; round < 3; round++) {
      const hit = await get(t, "/mid");
      expect(hit.cacheStatus).toMatch(/^shield; hit.*detail=disk/);
      expect(hit.body.equals(MID)).toBe(true);
    }
    const part = await get(t, "/mid", { range: "bytes=-100" });
    expect(part.status).toBe(206);
    expect(part.body.equals(MID.subarray(MID.length - 100))).toBe(true);
    expect(t.shield.context.tiers.memory.entries).toBe(0);
    expect(t.shield.context.tiers.disk?.health().heads).toBe(1);

    // One body byte flipped in place, under the remembered head: never served.
    const [file] = recordFiles();
    if (file === undefined) throw new Error("nothing was written to disk");
    const handle = openSync(file, "r+");
    writeSync(handle, Buffer.from([MID[5000]! ^ 0xff]), 0, 1, 5000);
    closeSync(handle);
    const refetched = await get(t, "/mid");
    expect(refetched.cacheStatus).toMatch(/fwd=uri-miss/);
    expect(refetched.body.equals(MID)).toBe(true);
    expect(t.shield.context.tiers.disk?.health().corrupt).toBe(1);
    expect(from.count()).toBe(2);
  });

  it("a file cut short after a restart is not served: the node fetches again", async () => {
    const from = await setUp();
    const first = node(from);
    await get(first, "/cut");
    await first.close();
    shields.length = 0;
    const [file] = recordFiles();
    if (file === undefined) throw new Error("nothing was written to disk");
    truncateSync(file, Math.floor(statSync(file).size / 2));

    const second = node(from);
    const res = await get(second, "/cut");
    expect(res.body.toString()).toBe("body of /cut");
    expect(res.cacheStatus).toMatch(/fwd=uri-miss/);
    expect(from.count()).toBe(2);
  });

  it("a disk that cannot be written leaves the node serving from memory, and health says so", async () => {
    const from = await setUp();
    const t = node(from);
    await t.shield.context.tiers.disk?.ready;
    // The tier's temporary folder replaced by a file: every write fails (ENOTDIR).
    rmSync(join(dir, "tmp"), { recursive: true, force: true });
    writeFileSync(join(dir, "tmp"), "not a folder");
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await get(t, `/p${i % 2}`));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(from.count()).toBe(2);
    const health = (await (await t.request("/__shield/health")).json()) as {
      status: string;
      tiers: { disk: { state: string; error?: string } };
    };
    expect(health.tiers.disk.state).toBe("down");
    expect(health.status).toBe("degraded");
    const metrics = await (await t.request("/__shield/metrics")).text();
    expect(metrics).toMatch(/shield_tier_up\{tier="disk"\} 0/);
  });
});
