/**
 * The memo of prepared targets (request/prepare.ts): a hit skips parsing, normalising and
 * routing a target it has seen, so what the memo hands back must depend on everything
 * that decided it. A client that varies Host, the forwarding fields or the scheme never
 * gets another request's URL or origin, and distinct targets never grow it past its bound.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { createShield, type Shield } from "../../origin-shield/app.ts";
import type { ShieldRequest } from "../../origin-shield/types.ts";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Two origins that say who they are, and a shield routing a.example and b.example to them. */
async function twoOrigins(overrides: Record<string, unknown> = {}): Promise<Shield> {
  const urls: string[] = [];
  for (const name of ["a", "b"]) {
    const server = createServer((req, res) => {
      res.writeHead(200, { "cache-control": "max-age=60" });
      res.end(`${name}:${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  const config = parseConfig({
    origins: [
      { name: "a", url: urls[0], hosts: ["a.example"] },
      { name: "b", url: urls[1], hosts: ["b.example"] },
    ],
    ...overrides,
  });
  const shield = createShield({ config });
  closers.push(async () => {
    await shield.drain();
    await shield.close();
  });
  return shield;
}

async function get(
  shield: Shield,
  request: Partial<ShieldRequest> & { headers: ShieldRequest["headers"] },
) {
  const res = await shield.app.request(
    `http://${String(request.headers.host ?? "x")}${request.target ?? "/p"}`,
    { headers: request.headers as Record<string, string> },
  );
  return { status: res.status, body: await res.text() };
}

describe("the prepared-targets memo", () => {
  it("the same target on another Host goes to that host's origin", async () => {
    const shield = await twoOrigins();
    for (let round = 0; round < 3; round++) {
      expect(await get(shield, { headers: { host: "a.example" } })).toEqual({
        status: 200,
        body: "a:/p",
      });
      expect(await get(shield, { headers: { host: "b.example" } })).toEqual({
        status: 200,
        body: "b:/p",
      });
      expect((await get(shield, { headers: { host: "c.example" } })).status).toBe(421);
    }
  });

  it("with trusted X-Forwarded-Host, the forwarded host decides, each time", async () => {
    const shield = await twoOrigins({ shield: { trustForwardedHost: true } });
    for (let round = 0; round < 3; round++) {
      const viaA = await get(shield, {
        headers: { host: "b.example", "x-forwarded-host": "a.example" },
      });
      expect(viaA.body).toBe("a:/p");
      expect((await get(shield, { headers: { host: "b.example" } })).body).toBe("b:/p");
    }
  });

  it("http and https are told apart (a trusted X-Forwarded-Proto), so their entries stay apart", async () => {
    const shield = await twoOrigins({ shield: { trustForwardedHost: true } });
    const https = await shield.app.request("http://a.example/s", {
      headers: { host: "a.example", "x-forwarded-proto": "https" },
    });
    expect(https.headers.get("cache-status")).toMatch(/fwd=uri-miss/);
    await https.text();
    await shield.drain();
    const http = await shield.app.request("http://a.example/s", { headers: { host: "a.example" } });
    expect(http.headers.get("cache-status")).toMatch(/fwd=uri-miss/);
  });

  it("distinct targets never grow it past shield.tables.targetsBytes", async () => {
    const shield = await twoOrigins({ shield: { tables: { targetsBytes: 64 * 1024 } } });
    const handler = shield.context;
    for (let i = 0; i < 2_000; i++) {
      await get(shield, { headers: { host: "a.example" }, target: `/${"x".repeat(200)}${i}` });
    }
    expect(handler.targets.bytes).toBeGreaterThan(32 * 1024);
    expect(handler.targets.bytes).toBeLessThanOrEqual(64 * 1024);
    const metrics = await (await shield.app.request("http://a.example/__shield/metrics")).text();
    expect(metrics).toMatch(/^shield_table_max_bytes\{table="targets"\} 65536$/m);
  });
});
