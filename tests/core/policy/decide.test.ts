import { describe, expect, it } from "vitest";
import { type Decision, decide, mayServeStaleOnError } from "../../../core/policy/index.ts";
import { options, request, SECOND, stored, T0 } from "../../helpers/http.ts";

type Case = {
  name: string;
  headers: Record<string, string>;
  storedWith?: Record<string, string>;
  method?: string;
  requestHeaders?: Record<string, string>;
  at: number; // seconds after T0
  honorRequest?: boolean;
  expect: Decision["kind"];
  reason?: string;
};

const cases: Case[] = [
  {
    name: "fresh within max-age (§4.2)",
    headers: { "cache-control": "max-age=60" },
    at: 59,
    expect: "fresh",
  },
  {
    name: "stale exactly at the end of the lifetime (§4.2: fresh while lifetime > age)",
    headers: { "cache-control": "max-age=60" },
    at: 60,
    expect: "revalidate",
    reason: "stale",
  },
  {
    name: "HEAD is answered from a stored GET",
    method: "HEAD",
    headers: { "cache-control": "max-age=60" },
    at: 1,
    expect: "fresh",
  },
  {
    name: "POST never uses the cache",
    method: "POST",
    headers: { "cache-control": "max-age=60" },
    at: 1,
    expect: "miss",
    reason: "method",
  },
  {
    name: "stale within stale-while-revalidate is served while refreshing (RFC 5861 §3)",
    headers: { "cache-control": "max-age=60, stale-while-revalidate=30" },
    at: 75,
    expect: "stale-while-revalidate",
  },
  {
    name: "past stale-while-revalidate it must revalidate",
    headers: { "cache-control": "max-age=60, stale-while-revalidate=30" },
    at: 90,
    expect: "revalidate",
    reason: "stale",
  },
  {
    name: "no-cache response always revalidates (§5.2.2.4)",
    headers: { "cache-control": "no-cache", etag: '"a"' },
    at: 0,
    expect: "revalidate",
    reason: "stale",
  },
  {
    name: "Vary mismatch is a miss (§4.1)",
    headers: { "cache-control": "max-age=60", vary: "accept-language" },
    storedWith: { "accept-language": "en" },
    requestHeaders: { "accept-language": "fr" },
    at: 1,
    expect: "miss",
    reason: "vary-miss",
  },
  {
    name: "Vary match ignores whitespace and case of Accept-Encoding (§4.1)",
    headers: { "cache-control": "max-age=60", vary: "accept-encoding" },
    storedWith: { "accept-encoding": "gzip, br" },
    requestHeaders: { "accept-encoding": "GZIP,br" },
    at: 1,
    expect: "fresh",
  },
  {
    name: "Vary on a header absent then present is a miss",
    headers: { "cache-control": "max-age=60", vary: "x-device" },
    requestHeaders: { "x-device": "mobile" },
    at: 1,
    expect: "miss",
    reason: "vary-miss",
  },
  {
    name: "Authorization request and an entry not shareable with it: miss",
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { authorization: "Bearer t" },
    at: 1,
    expect: "miss",
    reason: "authorization",
  },
  {
    name: "Authorization request and a public entry: hit (§3.5)",
    headers: { "cache-control": "public, max-age=60" },
    requestHeaders: { authorization: "Bearer t" },
    at: 1,
    expect: "fresh",
  },
  // Request directives (§5.2.1), ignored by default.
  {
    name: "client no-cache is ignored by default",
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "no-cache" },
    at: 1,
    expect: "fresh",
  },
  {
    name: "client Pragma: no-cache is ignored by default",
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { pragma: "no-cache" },
    at: 1,
    expect: "fresh",
  },
  {
    name: "client no-cache revalidates when honoured (§5.2.1.4)",
    honorRequest: true,
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "no-cache" },
    at: 1,
    expect: "revalidate",
    reason: "request-no-cache",
  },
  {
    name: "Pragma: no-cache acts as no-cache without Cache-Control (§5.4)",
    honorRequest: true,
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { pragma: "no-cache" },
    at: 1,
    expect: "revalidate",
    reason: "request-no-cache",
  },
  {
    name: "Pragma is ignored when the request has Cache-Control (§5.4)",
    honorRequest: true,
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { pragma: "no-cache", "cache-control": "max-stale" },
    at: 1,
    expect: "fresh",
  },
  {
    name: "client max-age below the current age revalidates (§5.2.1.1)",
    honorRequest: true,
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "max-age=10" },
    at: 11,
    expect: "revalidate",
    reason: "request-max-age",
  },
  {
    name: "client max-age above the current age is fresh",
    honorRequest: true,
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "max-age=10" },
    at: 9,
    expect: "fresh",
  },
  {
    name: "client min-fresh beyond the remaining freshness revalidates (§5.2.1.3)",
    honorRequest: true,
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "min-fresh=30" },
    at: 31,
    expect: "revalidate",
    reason: "request-min-fresh",
  },
  {
    name: "client max-stale accepts a stale response (§5.2.1.2)",
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "max-stale=30" },
    at: 80,
    expect: "stale-allowed",
  },
  {
    name: "client max-stale with no value accepts any staleness",
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "max-stale" },
    at: 100_000,
    expect: "stale-allowed",
  },
  {
    name: "client max-stale beyond its limit revalidates",
    headers: { "cache-control": "max-age=60", etag: '"a"' },
    requestHeaders: { "cache-control": "max-stale=30" },
    at: 91,
    expect: "revalidate",
  },
  {
    name: "max-stale cannot override must-revalidate (§5.2.2.2)",
    headers: { "cache-control": "max-age=60, must-revalidate" },
    requestHeaders: { "cache-control": "max-stale" },
    at: 61,
    expect: "revalidate",
  },
  {
    name: "max-stale cannot override s-maxage's proxy-revalidate (§5.2.2.10)",
    headers: { "cache-control": "s-maxage=60" },
    requestHeaders: { "cache-control": "max-stale" },
    at: 61,
    expect: "revalidate",
  },
  {
    name: "only-if-cached with a fresh entry is a hit (§5.2.1.7)",
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "only-if-cached" },
    at: 1,
    expect: "fresh",
  },
  {
    name: "only-if-cached with a stale entry is unsatisfiable: 504 (§5.2.1.7)",
    headers: { "cache-control": "max-age=60" },
    requestHeaders: { "cache-control": "only-if-cached" },
    at: 61,
    expect: "unsatisfiable",
  },
  {
    name: "only-if-cached may be served within stale-while-revalidate",
    headers: { "cache-control": "max-age=60, stale-while-revalidate=60" },
    requestHeaders: { "cache-control": "only-if-cached" },
    at: 61,
    expect: "stale-while-revalidate",
  },
];

describe("decide: a request against a stored entry", () => {
  it.each(cases)("$name", (c) => {
    const entry = stored(c.headers, { request: request("GET", c.storedWith ?? {}) });
    const d = decide(
      request(c.method ?? "GET", c.requestHeaders),
      entry,
      T0 + c.at * SECOND,
      options({ honorRequestNoCache: c.honorRequest ?? false }),
    );
    expect(d.kind).toBe(c.expect);
    if (c.reason !== undefined) expect(d).toMatchObject({ reason: c.reason });
  });

  it("no entry is a uri-miss, or 504 with only-if-cached", () => {
    expect(decide(request(), undefined, T0, options())).toEqual({
      kind: "miss",
      reason: "uri-miss",
    });
    expect(
      decide(request("GET", { "cache-control": "only-if-cached" }), undefined, T0, options()),
    ).toEqual({ kind: "unsatisfiable" });
  });

  it("reports age and remaining ttl in seconds", () => {
    const entry = stored({ "cache-control": "max-age=100", age: "20" });
    const d = decide(request(), entry, T0 + 30 * SECOND, options());
    expect(d).toEqual({ kind: "fresh", age: 50, ttl: 50 });
  });

  it("revalidation carries the entry's validators as conditional headers (§4.3.1)", () => {
    const entry = stored({
      "cache-control": "max-age=1",
      etag: 'W/"v1"',
      "last-modified": "Tue, 01 Dec 2025 00:00:00 GMT",
    });
    const d = decide(request(), entry, T0 + 5 * SECOND, options());
    expect(d).toMatchObject({
      kind: "revalidate",
      conditional: [
        ["if-none-match", 'W/"v1"'],
        ["if-modified-since", "Tue, 01 Dec 2025 00:00:00 GMT"],
      ],
    });
  });

  it("revalidation says whether stale-if-error still allows the stale copy (RFC 5861 §4)", () => {
    const entry = stored({ "cache-control": "max-age=60, stale-if-error=60", etag: '"a"' });
    expect(decide(request(), entry, T0 + 100 * SECOND, options())).toMatchObject({
      staleIfError: true,
    });
    expect(decide(request(), entry, T0 + 121 * SECOND, options())).toMatchObject({
      staleIfError: false,
    });
    expect(mayServeStaleOnError(entry, T0 + 119 * SECOND)).toBe(true);
    expect(mayServeStaleOnError(entry, T0 + 120 * SECOND)).toBe(false);
  });

  it("is pure: the same inputs give the same decision and the entry is untouched", () => {
    const entry = stored({ "cache-control": "max-age=60, stale-while-revalidate=10" });
    const copy = structuredClone(entry);
    const a = decide(request(), entry, T0 + 65 * SECOND, options());
    const b = decide(request(), entry, T0 + 65 * SECOND, options());
    expect(a).toEqual(b);
    expect(entry).toEqual(copy);
  });
});
