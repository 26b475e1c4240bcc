/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): what a hop accepts as a
 * `traceparent`, and what it sends on. Cases follow the spec's §3.2 and its versioning
 * rules (§3.2.4), and the processing model: a valid field keeps its trace-id with a new
 * parent-id, anything else starts a new trace and drops `tracestate`.
 */
import { describe, expect, it } from "vitest";
import { continueTrace, parseTraceparent } from "../../../core/http/trace-context.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const VALID = `00-${TRACE}-${PARENT}-01`;

describe("parseTraceparent", () => {
  it("reads a version 00 field", () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE, parentId: PARENT, flags: 1 });
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.flags).toBe(0);
  });

  it("reads a higher version as 00 when its first fields parse (§3.2.4)", () => {
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-03`)).toEqual({
      traceId: TRACE,
      parentId: PARENT,
      flags: 3,
    });
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-adds`)?.traceId).toBe(TRACE);
  });

  it.each([
    ["absent", null],
    ["empty", ""],
    ["version ff (forbidden)", `ff-${TRACE}-${PARENT}-01`],
    ["version 00 with more after it", `00-${TRACE}-${PARENT}-01-extra`],
    ["a higher version with no dash after the flags", `01-${TRACE}-${PARENT}-01x`],
    ["an all-zero trace-id", `00-${"0".repeat(32)}-${PARENT}-01`],
    ["an all-zero parent-id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ["an upper-case version", `0A-${TRACE}-${PARENT}-01`],
    ["a short trace-id", `00-${TRACE.slice(1)}-${PARENT}-01`],
    ["a non-hex parent-id", `00-${TRACE}-00f067aa0ba902bz-01`],
    ["non-hex flags", `00-${TRACE}-${PARENT}-0g`],
    ["two fields joined (a repeated header)", `${VALID}, ${VALID}`],
    ["surrounding spaces", ` ${VALID}`],
    ["an underscore for a dash", `00_${TRACE}-${PARENT}-01`],
  ])("refuses %s", (_what, value) => {
    expect(parseTraceparent(value)).toBeNull();
  });
});

const FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

describe("continueTrace", () => {
  it("keeps a valid trace with a new span id of its own", () => {
    const hop = continueTrace(VALID);
    expect(hop).toMatchObject({ traceId: TRACE, parentId: PARENT, restarted: false });
    expect(hop.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(hop.spanId).not.toBe(PARENT);
    expect(hop.traceparent).toBe(`00-${TRACE}-${hop.spanId}-01`);
  });

  it("keeps the sampled and random-trace-id flags, clears the reserved bits, writes version 00", () => {
    expect(continueTrace(`00-${TRACE}-${PARENT}-00`).traceparent).toMatch(/-00$/);
    expect(continueTrace(`00-${TRACE}-${PARENT}-ff`).traceparent).toMatch(/-03$/);
    expect(continueTrace(`01-${TRACE}-${PARENT}-02-x`).traceparent).toMatch(/^00-.*-02$/);
  });

  it("starts a new, sampled, random trace when none or a malformed one came", () => {
    for (const received of [null, undefined, "", `00-${TRACE}-${PARENT}-01-x`, "garbage"]) {
      const hop = continueTrace(received);
      expect(hop.restarted).toBe(true);
      expect(hop.parentId).toBeNull();
      const [, traceId, spanId, flags] = FORMAT.exec(hop.traceparent) ?? [];
      expect(traceId).toBe(hop.traceId);
      expect(spanId).toBe(hop.spanId);
      expect(flags).toBe("03");
      expect(hop.traceId).not.toBe(TRACE);
      // What it sends is what the next hop accepts.
      expect(parseTraceparent(hop.traceparent)).not.toBeNull();
    }
  });

  it("gives every hop its own ids", () => {
    const spans = new Set<string>();
    const traces = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const hop = continueTrace(null);
      spans.add(hop.spanId);
      traces.add(hop.traceId);
    }
    expect(spans.size).toBe(2_000);
    expect(traces.size).toBe(2_000);
  });
});
