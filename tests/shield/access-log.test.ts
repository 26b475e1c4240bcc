import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { accessLog } from "../../origin-shield/observe/access-log.ts";

function sink(lines: string[]): Writable {
  return new Writable({
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
}

describe("the per-request log line", () => {
  it("is a pino record (level, time, the logger's name) with the request's fields", async () => {
    const lines: string[] = [];
    const log = accessLog(pino({ level: "info", name: "edge-shield-1" }, sink(lines)));
    expect(log).not.toBeNull();
    log?.("GET", '/a"b\\c\n?x=\u0001', 200, "hit", 1024, 0.3, true);
    // Written in a batch, at most 100 ms after the line.
    await vi.waitFor(() => expect(lines).toHaveLength(1), { timeout: 2_000 });
    const record = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(record).toMatchObject({
      level: 30,
      name: "edge-shield-1",
      method: "GET",
      // A hostile URL cannot break the line or forge fields: it is JSON-escaped.
      url: '/a"b\\c\n?x=\u0001',
      status: 200,
      outcome: "hit",
      bytes: 1024,
      ms: 0.3,
      complete: true,
    });
    expect(typeof record.time).toBe("number");
  });

  it("is not written when info is off", () => {
    expect(accessLog(pino({ level: "warn" }))).toBeNull();
  });
});
