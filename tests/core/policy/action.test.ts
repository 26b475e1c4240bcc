import { describe, expect, it } from "vitest";
import { type CacheAction, cacheAction, decide } from "../../../core/policy/index.ts";
import { options, request, SECOND, stored, T0 } from "../../helpers/http.ts";

const entry = stored({
  "cache-control": "max-age=60, stale-while-revalidate=30, stale-if-error=120",
  etag: '"a"',
  vary: "x-device",
});

function actionAt(
  seconds: number,
  headers: Record<string, string> = {},
  stored: typeof entry | null = entry,
  honorRequestNoCache = false,
): CacheAction {
  const decision = decide(
    request("GET", headers),
    stored ?? undefined,
    T0 + seconds * SECOND,
    options({ honorRequestNoCache }),
  );
  return cacheAction(decision, "edge");
}

describe("cacheAction: what to do with a decision, and its Cache-Status member", () => {
  it("fresh: a hit with the freshness left", () => {
    expect(actionAt(20)).toEqual({
      kind: "hit",
      age: 20,
      stale: false,
      refresh: false,
      member: { cache: "edge", hit: true, ttl: 40 },
    });
  });

  it("stale-while-revalidate: a stale hit that starts a background refresh", () => {
    expect(actionAt(70)).toEqual({
      kind: "hit",
      age: 70,
      stale: true,
      refresh: true,
      member: { cache: "edge", hit: true, ttl: -10, detail: "stale-while-revalidate" },
    });
  });

  it("max-stale: a stale hit without a refresh", () => {
    expect(actionAt(100, { "cache-control": "max-stale=60" })).toEqual({
      kind: "hit",
      age: 100,
      stale: true,
      refresh: false,
      member: { cache: "edge", hit: true, ttl: -40, detail: "max-stale" },
    });
  });

  it("stale past its windows: revalidate with the validator, fwd=stale", () => {
    expect(actionAt(95)).toEqual({
      kind: "revalidate",
      fwd: "stale",
      conditional: [["if-none-match", '"a"']],
      staleIfError: true,
    });
    expect(actionAt(200)).toMatchObject({ kind: "revalidate", staleIfError: false });
  });

  it("a client's own no-cache, when honoured: revalidate with fwd=request", () => {
    expect(actionAt(10, { "cache-control": "no-cache" }, entry, true)).toMatchObject({
      kind: "revalidate",
      fwd: "request",
    });
  });

  it.each([
    ["nothing stored", {}, null, "uri-miss"],
    ["stored for other request headers", { "x-device": "tv" }, entry, "vary-miss"],
    [
      "Authorization and a response not shareable with it",
      { authorization: "B t" },
      entry,
      "request",
    ],
  ] as const)("a miss because %s: fwd=%s", (_, headers, e, fwd) => {
    expect(actionAt(10, headers, e)).toEqual({ kind: "miss", fwd });
  });

  it("a method the cache does not answer is a miss with fwd=method", () => {
    const decision = decide(request("POST"), entry, T0, options());
    expect(cacheAction(decision, "shield")).toEqual({ kind: "miss", fwd: "method" });
  });

  it("only-if-cached with nothing usable is unsatisfiable", () => {
    expect(actionAt(10, { "cache-control": "only-if-cached" }, null)).toEqual({
      kind: "unsatisfiable",
    });
  });
});
