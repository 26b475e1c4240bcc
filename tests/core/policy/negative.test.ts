/**
 * Negative caching (core/policy/freshness.ts negativeLifetime): a 404 or 410 the origin
 * gave no freshness is fresh for cache.negativeTtl seconds, and says so in Cache-Status;
 * what the origin did say (no-store, max-age=0, a lifetime) is obeyed.
 */
import { describe, expect, it } from "vitest";
import { formatCacheStatusMember } from "../../../core/http/cache-status.ts";
import { cacheAction, decide, planStorage, storedDetail } from "../../../core/policy/index.ts";
import { HTTP_T0, httpDate, options, request, response, SECOND, T0 } from "../../helpers/http.ts";

function plan(status: number, headers: Record<string, string>, negativeTtl = 60) {
  return planStorage({
    request: request(),
    response: response(status, { date: HTTP_T0, ...headers }),
    requestTime: T0,
    responseTime: T0,
    options: options({ negativeTtl }),
  });
}

describe("a 404 or 410 without freshness", () => {
  it.each([404, 410])("%i is fresh for negativeTtl, from its generation", (status) => {
    const stored = plan(status, {});
    expect(stored).toMatchObject({
      store: true,
      meta: { freshnessLifetime: 60, lifetimeSource: "negative", freshUntil: T0 + 60 * SECOND },
    });
    // Generated 20 s before it arrived (Age): 40 s of it are left.
    const aged = plan(status, { age: "20" });
    expect(aged.store && aged.meta.freshUntil).toBe(T0 + 40 * SECOND);
  });

  it("replaces the Last-Modified heuristic, and gets no configured stale window", () => {
    const stored = planStorage({
      request: request(),
      response: response(404, { date: HTTP_T0, "last-modified": httpDate(T0 - 86_400 * SECOND) }),
      requestTime: T0,
      responseTime: T0,
      options: options({ defaultStaleIfError: 300, defaultStaleWhileRevalidate: 30 }),
    });
    expect(stored).toMatchObject({
      store: true,
      meta: {
        freshnessLifetime: 60,
        staleIfErrorUntil: T0 + 60 * SECOND,
        staleWhileRevalidateUntil: T0 + 60 * SECOND,
      },
    });
  });

  it("is left to the heuristic alone when negativeTtl is 0 (not stored without Last-Modified)", () => {
    expect(plan(404, {}, 0)).toEqual({ store: false, reason: "stale-on-arrival" });
    const heuristic = plan(404, { "last-modified": httpDate(T0 - 1000 * SECOND) }, 0);
    expect(heuristic.store && heuristic.meta.lifetimeSource).toBe("heuristic");
  });

  it("does not apply to other statuses", () => {
    for (const status of [200, 301, 403, 405, 500, 503]) {
      const result = plan(status, {});
      expect(result.store && result.meta.lifetimeSource).not.toBe("negative");
    }
  });
});

describe("what the origin says about a 404 wins", () => {
  it.each([
    ["no-store", { "cache-control": "no-store" }, { store: false, reason: "no-store" }],
    ["max-age=0", { "cache-control": "max-age=0" }, { store: false, reason: "stale-on-arrival" }],
    ["private", { "cache-control": "private" }, { store: false, reason: "private" }],
    ["an expired Expires", { expires: "0" }, { store: false, reason: "stale-on-arrival" }],
  ])("%s: not stored", (_what, headers, expected) => {
    expect(plan(404, headers)).toEqual(expected);
  });

  it("an explicit max-age is the lifetime, longer or shorter", () => {
    const long = plan(404, { "cache-control": "max-age=600" });
    expect(long.store && [long.meta.freshnessLifetime, long.meta.lifetimeSource]).toEqual([
      600,
      "max-age",
    ]);
    const short = plan(410, { "cache-control": "s-maxage=5" });
    expect(short.store && short.meta.freshnessLifetime).toBe(5);
  });
});

describe("Cache-Status says so", () => {
  it("on the response that stored it, and on each fresh hit", () => {
    const stored = plan(404, {});
    if (!stored.store) throw new Error("not stored");
    expect(storedDetail(stored.meta)).toBe("negative-ttl");
    const hit = cacheAction(
      decide(request(), stored.meta, T0 + 10 * SECOND, options()),
      "shield",
      stored.meta,
    );
    expect(hit.kind === "hit" && formatCacheStatusMember(hit.member)).toBe(
      "shield; hit; ttl=50; detail=negative-ttl",
    );
    const positive = plan(200, { "cache-control": "max-age=60" });
    expect(positive.store && storedDetail(positive.meta)).toBeUndefined();
  });
});
