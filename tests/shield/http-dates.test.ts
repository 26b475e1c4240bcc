/**
 * HTTP-dates as origins really send them (RFC 9110 §5.6.7): a recipient accepts all three
 * formats, and day and month names and "GMT" compared without regard to case. What a
 * user notices: the lifetime an Expires gives, and an If-Range that matches a
 * Last-Modified written another way.
 */
import { describe, expect, it } from "vitest";
import { CLOCK_START } from "../helpers/shield.ts";
import { fill, harness } from "./support.ts";

const h = harness();

// CLOCK_START is Sunday 22 November 2026, 12:00:00 GMT.
const NOW = {
  imf: "Sun, 22 Nov 2026 12:00:00 GMT",
  rfc850Lower: "sunday, 22-nov-26 12:00:00 gmt",
};
const IN_A_MINUTE = {
  "IMF-fixdate": "Sun, 22 Nov 2026 12:01:00 GMT",
  "IMF-fixdate in lower case": "sun, 22 nov 2026 12:01:00 gmt",
  "rfc850-date in upper case": "SUNDAY, 22-NOV-26 12:01:00 GMT",
  "rfc850-date, mixed case (the RFC's own example, varied)": "sunday, 22-NOV-26 12:01:00 gmt",
  "asctime-date in lower case": "sun nov 22 12:01:00 2026",
};

describe("HTTP-date formats and case (RFC 9110 §5.6.7)", () => {
  it.each(Object.entries(IN_A_MINUTE))(
    "Expires as %s gives the 60 s lifetime it says",
    async (_name, expires) => {
      const { origin, t } = await h.start((_req, res) => {
        res.writeHead(200, { date: NOW.rfc850Lower, expires, "content-type": "text/plain" });
        res.end("dated");
      });
      expect(CLOCK_START).toBe(Date.parse(NOW.imf));
      await fill(t, "/d");
      t.advance(59_000);
      const hit = await t.request("/d");
      expect(hit.headers.get("cache-status")).toBe("shield; hit; ttl=1");
      t.advance(2_000);
      // Expired (and without a validator, gone): the origin is asked again.
      const after = await t.request("/d");
      expect(after.headers.get("cache-status")).toMatch(/^shield; fwd=/);
      expect(origin.count()).toBe(2);
    },
  );

  it("an If-Range date in lower-case rfc850 form matches the same Last-Modified: 206", async () => {
    const { t } = await h.start((_req, res) => {
      res.writeHead(200, {
        "cache-control": "max-age=60",
        "last-modified": "Sat, 21 Nov 2026 12:00:00 GMT",
        "content-length": "10",
      });
      res.end("0123456789");
    });
    await fill(t, "/lm");
    const res = await t.request("/lm", {
      headers: { range: "bytes=2-4", "if-range": "saturday, 21-nov-26 12:00:00 gmt" },
    });
    expect(res.status).toBe(206);
    expect(await res.text()).toBe("234");
  });

  it("a date that is not an HTTP-date (another zone) gives no lifetime: heuristics or none", async () => {
    const { origin, t } = await h.start((_req, res) => {
      res.writeHead(200, {
        date: NOW.imf,
        expires: "Sun, 22 Nov 2026 12:01:00 UTC",
        "content-type": "text/plain",
      });
      res.end("x");
    });
    await fill(t, "/bad");
    // RFC 9111 §5.3: an invalid Expires means already expired.
    await fill(t, "/bad");
    expect(origin.count()).toBe(2);
  });
});
