import { describe, expect, it } from "vitest";
import { formatCacheStatusMember } from "../../../core/http/cache-status.ts";
import {
  decide,
  forwardedMember,
  forwardReason,
  hitMember,
  staleOnErrorMember,
} from "../../../core/policy/index.ts";
import { options, request, SECOND, stored, T0 } from "../../helpers/http.ts";

const entry = stored({
  "cache-control": "max-age=60, stale-while-revalidate=30",
  etag: '"a"',
  vary: "x-device",
});
const at = (s: number, headers: Record<string, string> = {}) =>
  decide(request("GET", headers), entry, T0 + s * SECOND, options());

describe("Cache-Status members for each decision (RFC 9211)", () => {
  it("a fresh hit reports its remaining freshness", () => {
    const d = at(20);
    if (d.kind !== "fresh") throw new Error(d.kind);
    expect(formatCacheStatusMember(hitMember("shield", d))).toBe("shield; hit; ttl=40");
  });

  it.each([
    [{ cache: "shield", hit: true, ttl: 40.9 }, "shield; hit; ttl=40"],
    [{ cache: "shield", hit: true, ttl: -0.2 }, "shield; hit; ttl=-1"],
    [{ cache: "shield", hit: true, ttl: -0 }, "shield; hit; ttl=0"],
    [{ cache: "my cache", hit: true, ttl: 3 }, '"my cache"; hit; ttl=3'],
    [{ cache: "", hit: true }, "unknown; hit"],
    [{ cache: "shield", hit: true, ttl: Number.NaN }, "shield; hit"],
    [{ cache: "shield", hit: true, ttl: 1e20 }, "shield; hit; ttl=999999999999999"],
    // Any other parameter takes the general serialiser: the same words for the same parts.
    [{ cache: "shield", hit: true, ttl: 5, stored: true }, "shield; hit; ttl=5; stored"],
  ] as const)("a plain hit member %o is written %s", (member, text) => {
    expect(formatCacheStatusMember(member)).toBe(text);
  });

  it("stale-while-revalidate is a hit with a negative ttl and says so", () => {
    const d = at(70);
    if (d.kind !== "stale-while-revalidate") throw new Error(d.kind);
    expect(formatCacheStatusMember(hitMember("edge", d))).toBe(
      "edge; hit; ttl=-10; detail=stale-while-revalidate",
    );
  });

  it.each([
    ["nothing stored", undefined, {}, "uri-miss"],
    ["stored for other request headers", entry, { "x-device": "tv" }, "vary-miss"],
    ["stale and past stale-while-revalidate", entry, {}, "stale"],
    ["carrying Authorization", entry, { authorization: "Bearer t" }, "request"],
  ] as const)("forwarded because %s: fwd=%s", (_, e, headers, fwd) => {
    const d = decide(request("GET", headers), e, T0 + 95 * SECOND, options());
    expect(forwardReason(d)).toBe(fwd);
  });

  it("a fresh hit is not forwarded", () => {
    expect(forwardReason(at(1))).toBeNull();
  });

  it("a miss that was stored, and one that was not, with the reason", () => {
    expect(
      formatCacheStatusMember(
        forwardedMember("shield", { fwd: "uri-miss", status: 200, stored: true }),
      ),
    ).toBe("shield; fwd=uri-miss; fwd-status=200; stored");
    expect(
      formatCacheStatusMember(
        forwardedMember("shield", {
          fwd: "uri-miss",
          status: 200,
          stored: false,
          detail: "set-cookie",
          collapsed: true,
        }),
      ),
    ).toBe("shield; fwd=uri-miss; fwd-status=200; collapsed; detail=set-cookie");
  });

  it("a stale copy served on an origin error names the failure", () => {
    expect(formatCacheStatusMember(staleOnErrorMember("shield", -12.5, 503))).toBe(
      "shield; fwd=stale; fwd-status=503; ttl=-13; detail=stale-if-error",
    );
  });
});
