/**
 * W3C Trace Context at the edge, and its one log line per request
 * (workers/observe/request-log.ts): the edge starts a trace when the client sent none,
 * continues a valid one with a span of its own, replaces a malformed one, and sends its
 * span to the shield as the parent; the log line names the trace, the span, the shield
 * node that answered, Cache-Status and timings.
 */
import { describe, expect, it } from "vitest";
import { parseTraceparent } from "../../core/http/trace-context.ts";
import { receivedAll, SHIELDS, scriptAll, testEdge, uniquePath } from "./support/edge.ts";

const PAGE = { headers: { "cache-control": "max-age=60" }, body: "page" } as const;
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const FROM_CLIENT = `00-${TRACE}-${CLIENT_SPAN}-01`;

async function atShield(path: string) {
  const logs = await receivedAll(path);
  return logs.map((l) => ({
    traceparent: l.headers.traceparent,
    tracestate: l.headers.tracestate,
    parsed: parseTraceparent(l.headers.traceparent),
  }));
}

describe("traceparent towards the shield", () => {
  it("is created at the edge when the client sent none", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    await edge.send(path);
    const [sent] = await atShield(path);
    expect(sent?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-03$/);
    const [line] = edge.logs();
    expect(line).toMatchObject({ trace: sent?.parsed?.traceId, span: sent?.parsed?.parentId });
    expect(line).not.toHaveProperty("parent");
  });

  it("continues the client's trace with the edge's own span; tracestate goes with it", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    await edge.send(path, { headers: { traceparent: FROM_CLIENT, tracestate: "shop=7" } });
    const [sent] = await atShield(path);
    expect(sent?.parsed?.traceId).toBe(TRACE);
    expect(sent?.parsed?.parentId).not.toBe(CLIENT_SPAN);
    expect(sent?.parsed?.flags).toBe(1);
    expect(sent?.tracestate).toBe("shop=7");
    expect(edge.logs()[0]).toMatchObject({
      trace: TRACE,
      span: sent?.parsed?.parentId,
      parent: CLIENT_SPAN,
    });
  });

  it.each([
    ["upper-case", FROM_CLIENT.toUpperCase()],
    ["version ff", `ff-${TRACE}-${CLIENT_SPAN}-01`],
    ["a zero span", `00-${TRACE}-0000000000000000-01`],
    ["truncated", FROM_CLIENT.slice(0, 40)],
  ])(
    "a malformed one (%s) is replaced, never forwarded, and its tracestate dropped",
    async (_what, bad) => {
      const edge = testEdge();
      const path = uniquePath();
      await scriptAll(path, PAGE);
      await edge.send(path, { headers: { traceparent: bad, tracestate: "shop=7" } });
      const [sent] = await atShield(path);
      expect(sent?.traceparent).not.toBe(bad);
      expect(sent?.parsed).not.toBeNull();
      expect(sent?.parsed?.traceId).not.toBe(TRACE);
      expect(sent?.tracestate).toBeUndefined();
    },
  );

  it("gives each request its own span, a pass-through included", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    const headers = { traceparent: FROM_CLIENT };
    await edge.send(path, { method: "POST", body: "a", headers });
    await edge.send(path, { method: "POST", body: "b", headers });
    const [first, second] = await atShield(path);
    expect([first?.parsed?.traceId, second?.parsed?.traceId]).toEqual([TRACE, TRACE]);
    expect(first?.parsed?.parentId).not.toBe(second?.parsed?.parentId);
  });
});

describe("one log line per request", () => {
  it("names Cache-Status, the node that answered and the timings; a hit asked no node", async () => {
    const edge = testEdge();
    const path = uniquePath();
    await scriptAll(path, PAGE);
    await edge.send(`${path}?q=1`, { headers: { "cf-connecting-ip": "203.0.113.7" } });
    await edge.send(`${path}?q=1`);
    const [miss, hit] = edge.logs();
    expect(miss).toMatchObject({
      msg: "edge request",
      method: "GET",
      host: "edge.test",
      url: `${path}?q=1`,
      status: 200,
      cacheStatus: "edge; fwd=uri-miss; fwd-status=200; stored",
      attempts: 1,
    });
    expect(SHIELDS).toContain(miss?.node);
    expect(typeof miss?.ms).toBe("number");
    expect(typeof miss?.upstreamMs).toBe("number");
    expect(hit).toMatchObject({ status: 200, node: null, attempts: 0, upstreamMs: null });
    expect(hit?.cacheStatus).toMatch(/^edge; hit/);
    expect(hit?.trace).not.toBe(miss?.trace);
  });

  it("is written for refusals too", async () => {
    const edge = testEdge();
    await edge.send("/__shield/metrics");
    expect(edge.logs()).toEqual([
      expect.objectContaining({ status: 404, url: "/__shield/metrics", node: null }),
    ]);
  });
});
