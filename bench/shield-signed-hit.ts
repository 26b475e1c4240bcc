/**
 * What the edge's signature (shield.edgeAuth) costs a shield hit. The same cached 1 KiB
 * object is served by a shield without edgeAuth to unsigned requests (the baseline) and
 * by one with it to requests that carry the edge's CDN-Edge-Signature, in alternating
 * rounds of one run, each server pinned to core 1 and wrk to core 0 as in
 * bench/shield-hit.ts. Every signed request of a run carries the same field value, as all
 * the edge's requests for one URL within one second do: the gate's memo answers them.
 *
 * Then, in this process, the gate alone (origin-shield/request/edge-auth.ts): a check the
 * memo answers, and a check of a request never seen before (a long tail of URLs, each
 * costing one WebCrypto HMAC on Node's thread pool), 64 at a time, CPU of all threads.
 *
 *   npx tsx bench/shield-signed-hit.ts   (about 40 s; BENCH_SECONDS 3, BENCH_ROUNDS 4)
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  EDGE_SIGNATURE_FIELD,
  edgeSigningKey,
  signEdgeRequest,
} from "../core/auth/edge-signature.ts";
import { EdgeGate } from "../origin-shield/request/edge-auth.ts";
import type { ShieldRequest } from "../origin-shield/types.ts";
import { patternBody } from "./lib/body.ts";
import { type Child, startChild } from "./lib/proc.ts";
import { fail, fixed, int, median, printTable, type Row } from "./lib/table.ts";
import { haveTaskset, type PinnedLoadResult, pinnedLoad } from "./lib/wrk.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SECRET = "bench-edge-secret-0123456789abcdef";
const PATH = "/obj-1k";
const HOST = "bench.example";
const SIZE = 1024;

const origin = createServer((_req, res) => {
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "cache-control": "public, max-age=3600",
    etag: '"bench"',
    "content-length": String(SIZE),
  });
  res.end(patternBody(SIZE));
});
await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const origins = [{ name: "bench", url: originUrl, hosts: ["*"] }];
const key = await edgeSigningKey(SECRET);

/** The fields the edge would send for PATH now. */
async function edgeFields(): Promise<Record<string, string>> {
  const time = Math.floor(Date.now() / 1000);
  const request = { method: "GET", target: PATH, forwardedHost: HOST };
  return {
    "x-forwarded-host": HOST,
    [EDGE_SIGNATURE_FIELD]: await signEdgeRequest(key, request, time),
  };
}

/** One request, checked to be a hit of the whole object; its raw header list. */
async function hit(child: Child, headers: Record<string, string>): Promise<string[]> {
  const res = await fetch(child.url + PATH, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200 || !body.equals(patternBody(SIZE))) fail(`${child.url}: ${res.status}`);
  const raw: string[] = [];
  res.headers.forEach((value, name) => {
    if (name !== "connection" && name !== "keep-alive") raw.push(name, value);
  });
  return raw;
}

async function httpRuns(): Promise<Row[]> {
  if (!haveTaskset()) fail("taskset is needed to pin the load generator and the servers");
  const plain = await startChild("serve-shield.ts", [JSON.stringify({ origins })], [], { cpu: 1 });
  const guarded = await startChild(
    "serve-shield.ts",
    [JSON.stringify({ origins, shield: { edgeAuth: { secret: SECRET } } })],
    [],
    { cpu: 1 },
  );
  const servers = [
    { name: "unsigned, no edgeAuth", child: plain, signed: false },
    { name: "signed, edgeAuth", child: guarded, signed: true },
  ] as const;
  const run = async (server: (typeof servers)[number], seconds: number) => {
    const headers = server.signed ? await edgeFields() : { "x-forwarded-host": HOST };
    await hit(server.child, headers); // fills on the first run, a hit after
    const rawHeaders = await hit(server.child, headers);
    return pinnedLoad({
      url: server.child.url + PATH,
      seconds,
      connections: 64,
      pid: server.child.pid,
      cpu: 0,
      headers,
      expect: { status: 200, length: SIZE, cacheStatus: "hit", rawHeaders },
    });
  };
  for (const server of servers) await run(server, 1); // JIT warm-up
  const results = new Map<string, PinnedLoadResult[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(i + round) % servers.length]!;
      const result = await run(server, SECONDS);
      results.set(server.name, [...(results.get(server.name) ?? []), result]);
      process.stderr.write(
        `  round ${round + 1} ${server.name.padEnd(22)} ${int(result.rps).padStart(7)} req/s, ` +
          `server ${fixed(result.cpuUs)} µs/req, others ${result.otherPct}%\n`,
      );
    }
  }
  await Promise.all([plain.stop(), guarded.stop()]);
  const base = results.get(servers[0].name)!;
  const signed = results.get(servers[1].name)!;
  const ratios = (pick: (x: PinnedLoadResult) => number) =>
    signed.map((x, i) => pick(x) / pick(base[i]!));
  const rps = median(ratios((x) => x.rps));
  const cpuExtra = median(signed.map((x, i) => x.cpuUs - base[i]!.cpuUs));
  return [
    {
      figure: "1 KiB hit req/s, signed ÷ unsigned",
      value: int(median(signed.map((x) => x.rps))),
      baseline: int(median(base.map((x) => x.rps))),
      ratio: `${rps.toFixed(2)}×`,
      target: "≥ 0.95×",
      pass: rps >= 0.95,
    },
    {
      figure: "1 KiB hit server CPU µs/req",
      value: fixed(median(signed.map((x) => x.cpuUs))),
      baseline: fixed(median(base.map((x) => x.cpuUs))),
      ratio: `${cpuExtra >= 0 ? "+" : ""}${fixed(cpuExtra)} µs`,
      target: "—",
    },
  ];
}

async function gateAlone(): Promise<Row[]> {
  const gate = new EdgeGate(
    { secret: SECRET, maxAgeSeconds: 60, maxSkewSeconds: 10 },
    Date.now,
    "shield",
  );
  const request = async (target: string): Promise<ShieldRequest> => ({
    method: "GET",
    target,
    headers: {
      "x-forwarded-host": HOST,
      [EDGE_SIGNATURE_FIELD]: await signEdgeRequest(
        key,
        { method: "GET", target, forwardedHost: HOST },
        Math.floor(Date.now() / 1000),
      ),
    },
    remoteAddress: "127.0.0.1",
    secure: false,
    body: null,
  });
  const known = await request(PATH);
  if ((await gate.check(known)) !== null) fail("the gate refused a signed request");
  const calls = 1_000_000;
  let start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) if (gate.check(known) !== null) fail("memo check refused");
  const memoNs = Number(process.hrtime.bigint() - start) / calls;

  const fresh = 20_000;
  const requests = await Promise.all(
    Array.from({ length: fresh }, (_, i) => request(`/tail/${i}`)),
  );
  const cpu = process.cpuUsage();
  start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < fresh) {
        if ((await gate.check(requests[next++]!)) !== null) fail("the gate refused");
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  const wallUs = Number(process.hrtime.bigint() - start) / 1000 / fresh;
  const cpuUs = (used.user + used.system) / fresh;
  return [
    {
      figure: "gate check, memo hit (same field, in-process)",
      value: `${fixed(memoNs / 1000, 2)} µs`,
      baseline: "—",
      ratio: "—",
      target: "—",
    },
    {
      figure: "gate check, new request: CPU (all threads), 64 at a time",
      value: `${fixed(cpuUs)} µs`,
      baseline: "—",
      ratio: `wall ${fixed(wallUs)} µs/check`,
      target: "—",
    },
  ];
}

try {
  const rows = [...(await httpRuns()), ...(await gateAlone())];
  printTable(
    `shield hit with and without the edge's signature (median of ${ROUNDS} rounds × ${SECONDS} s, 64 connections)`,
    rows,
  );
} finally {
  origin.close();
}
