/**
 * The signed edge → shield hop with real processes: the Worker under `wrangler dev` with
 * EDGE_SHIELD_SECRET, a shield process (the bundle `npm run shield` runs) with the same
 * secret as SHIELD_EDGE_SECRET, and a loopback origin. The Worker's requests pass; the
 * same request sent to the shield directly, without the edge's signature, gets 403; the
 * shield's health stays open and its admin paths are 404 through the edge.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildNode } from "../../scripts/build-node.mjs";
import { startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { freePort, HOST, processGroup } from "../helpers/processes.ts";

const SECRET = "e2e-edge-shield-secret-0123456789abcdef";
let origin: TestOrigin;
let shield: ChildProcess | undefined;
let edge: ChildProcess | undefined;
let shieldUrl = "";
let edgeUrl = "";
let state = "";
const { launch, ready, stop, startEdge } = processGroup();

beforeAll(async () => {
  origin = await startOrigin();
  const [shieldPort, edgePort] = [await freePort(), await freePort()];
  const bundle = await buildNode("origin-shield/main.ts", "dist/e2e/shield-edge-auth.mjs");
  shield = launch(
    "shield",
    process.execPath,
    [bundle, "--origin", origin.url, "--port", String(shieldPort), "--log-level", "warn"],
    { SHIELD_EDGE_SECRET: SECRET },
  );
  shieldUrl = `http://${HOST}:${shieldPort}`;
  await ready(`${shieldUrl}/__shield/health`, shield, "shield", 20_000);

  state = mkdtempSync(join(tmpdir(), "edge-auth-e2e-"));
  const config = { origins: [{ name: "e2e", url: origin.url, hosts: [HOST, "localhost"] }] };
  ({ child: edge, url: edgeUrl } = await startEdge({
    port: edgePort,
    state,
    nodes: shieldUrl,
    config,
    vars: { EDGE_SHIELD_SECRET: SECRET },
  }));
}, 90_000);

afterAll(async () => {
  await Promise.all([stop(edge), stop(shield)]);
  await origin?.close();
  if (state !== "") rmSync(state, { recursive: true, force: true });
}, 20_000);

describe("the signed hop between real processes", () => {
  it("serves through the edge, and refuses the same request sent around it", async () => {
    const through = await fetch(`${edgeUrl}/signed/page`);
    expect(through.status).toBe(200);
    expect(await through.text()).toBe("ok");
    expect(through.headers.get("cache-status")).toMatch(/^shield; fwd=uri-miss/);

    const around = await fetch(`${shieldUrl}/signed/other`, {
      headers: { "x-forwarded-host": HOST },
    });
    expect(around.status).toBe(403);
    expect(await around.json()).toMatchObject({ error: "edge_signature_required" });
    expect(origin.requests.map((request) => request.url)).toEqual(["/signed/page"]);
  });

  it("keeps the shield's health open, its metrics closed, and its admin paths off the edge", async () => {
    expect((await fetch(`${shieldUrl}/__shield/health`)).status).toBe(200);
    expect((await fetch(`${shieldUrl}/__shield/metrics`)).status).toBe(401);
    expect((await fetch(`${edgeUrl}/__shield/health`)).status).toBe(404);
  });
});
