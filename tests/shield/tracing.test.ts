/**
 * W3C Trace Context through the shield (origin-shield/observe/trace.ts): the origin
 * receives the trace the edge sent with this hop's own span as its parent, or a new
 * trace when none or a malformed one came (never the malformed value itself); the access
 * log line carries the trace id, this hop's span and the caller's.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../core/config/index.ts";
import { parseTraceparent } from "../../core/http/trace-context.ts";
import { createShield } from "../../origin-shield/app.ts";
import { startOrigin } from "../helpers/origin.ts";
import { CLOCK_START } from "../helpers/shield.ts";
import { fill, harness } from "./support.ts";

const h = harness();

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const EDGE_SPAN = "00f067aa0ba902b7";
const FROM_EDGE = `00-${TRACE}-${EDGE_SPAN}-01`;

describe("what the origin receives", () => {
  it("the edge's trace, with the shield's own span as the parent", async () => {
    const { origin, t } = await h.start();
    await fill(t, "/traced", { headers: { traceparent: FROM_EDGE, tracestate: "edge=1,o=2" } });
    const seen = origin.requests[0]?.headers ?? {};
    const sent = parseTraceparent(seen.traceparent as string);
    expect(sent?.traceId).toBe(TRACE);
    expect(sent?.parentId).not.toBe(EDGE_SPAN);
    expect(sent?.flags).toBe(1);
    // The state of a trace it continues goes on unchanged.
    expect(seen.tracestate).toBe("edge=1,o=2");
  });

  it("a new trace when none came", async () => {
    const { origin, t } = await h.start();
    await fill(t, "/untraced");
    const sent = origin.requests[0]?.headers.traceparent as string;
    expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-03$/);
  });

  it.each([
    ["an upper-case one", FROM_EDGE.toUpperCase()],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${EDGE_SPAN}-01`],
    ["one with a bad version", `zz-${TRACE}-${EDGE_SPAN}-01`],
    ["two joined", `${FROM_EDGE}, ${FROM_EDGE}`],
  ])("a malformed one (%s) is replaced, and its tracestate dropped", async (_what, bad) => {
    const { origin, t } = await h.start();
    await fill(t, "/bad", { headers: { traceparent: bad, tracestate: "edge=1" } });
    const seen = origin.requests[0]?.headers ?? {};
    expect(seen.traceparent).not.toBe(bad);
    const sent = parseTraceparent(seen.traceparent as string);
    expect(sent).not.toBeNull();
    expect(sent?.traceId).not.toBe(TRACE);
    expect(seen.tracestate).toBeUndefined();
  });

  it("each request gets its own span; a pass-through carries the trace too", async () => {
    const { origin, t } = await h.start();
    await fill(t, "/post", { method: "POST", body: "x", headers: { traceparent: FROM_EDGE } });
    await fill(t, "/post", { method: "POST", body: "y", headers: { traceparent: FROM_EDGE } });
    const spans = origin.requests.map((r) => parseTraceparent(r.headers.traceparent as string));
    expect(spans.map((s) => s?.traceId)).toEqual([TRACE, TRACE]);
    expect(spans[0]?.parentId).not.toBe(spans[1]?.parentId);
  });
});

describe("the access log", () => {
  it("writes the trace id, this hop's span (the origin's parent) and the edge's", async () => {
    const origin = await startOrigin();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(
          ...chunk
            .toString()
            .split("\n")
            .filter((l) => l !== ""),
        );
        done();
      },
    });
    const shield = createShield({
      config: parseConfig({ origins: [{ name: "o", url: origin.url, hosts: ["127.0.0.1"] }] }),
      now: () => CLOCK_START,
      logger: pino({ level: "info" }, sink),
    });
    const server: Server = createServer(shield.listener);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await (await fetch(`${base}/logged`, { headers: { traceparent: FROM_EDGE } })).text();
      await shield.drain();
      await (await fetch(`${base}/logged`)).text();
      await vi.waitFor(() => expect(lines).toHaveLength(2), { timeout: 2_000 });
      const [miss, hit] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const atOrigin = parseTraceparent(origin.requests[0]?.headers.traceparent as string);
      expect(miss).toMatchObject({
        outcome: "miss",
        trace: TRACE,
        span: atOrigin?.parentId,
        parent: EDGE_SPAN,
      });
      // A hit has a span of its own too; with no traceparent, the trace started here.
      expect(hit?.outcome).toBe("hit");
      expect(hit?.trace).toMatch(/^[0-9a-f]{32}$/);
      expect(hit?.trace).not.toBe(TRACE);
      expect(hit?.span).toMatch(/^[0-9a-f]{16}$/);
      expect(hit).not.toHaveProperty("parent");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await shield.close();
      await origin.close();
    }
  });
});
