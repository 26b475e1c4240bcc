import { describe, expect, it } from "vitest";
import {
  applyNotModified,
  isNotModified,
  mergeNotModified,
  notModifiedHeaders,
  notModifiedSelects,
  refreshFromNotModified,
} from "../../../core/policy/index.ts";
import { httpDate, options, request, SECOND, stored, T0 } from "../../helpers/http.ts";

const LM = "Mon, 01 Dec 2025 10:00:00 GMT";

describe("client conditionals answered from the cache (RFC 9111 §4.3.2)", () => {
  const entry = stored({ "cache-control": "max-age=60", etag: '"v1"', "last-modified": LM });
  it.each([
    ["If-None-Match with the same tag", { "if-none-match": '"v1"' }, true],
    [
      "If-None-Match uses the weak comparison (RFC 9110 §13.1.2)",
      { "if-none-match": 'W/"v1"' },
      true,
    ],
    ["If-None-Match among several tags", { "if-none-match": '"x", "v1"' }, true],
    ["If-None-Match: * matches any stored response", { "if-none-match": "*" }, true],
    ["If-None-Match with another tag", { "if-none-match": '"v2"' }, false],
    [
      "If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3)",
      { "if-none-match": '"v2"', "if-modified-since": httpDate(T0) },
      false,
    ],
    ["If-Modified-Since after Last-Modified", { "if-modified-since": httpDate(T0) }, true],
    ["If-Modified-Since equal to Last-Modified", { "if-modified-since": LM }, true],
    [
      "If-Modified-Since before Last-Modified",
      { "if-modified-since": "Sun, 30 Nov 2025 10:00:00 GMT" },
      false,
    ],
    ["an invalid If-Modified-Since is ignored", { "if-modified-since": "yesterday" }, false],
    ["no conditional at all", {}, false],
  ])("%s", (_, headers, expected) => {
    expect(isNotModified(request("GET", headers), entry.headers)).toBe(expected);
  });

  it("only GET and HEAD are answered with 304", () => {
    expect(isNotModified(request("HEAD", { "if-none-match": '"v1"' }), entry.headers)).toBe(true);
    expect(isNotModified(request("POST", { "if-none-match": '"v1"' }), entry.headers)).toBe(false);
  });

  it("without Last-Modified, If-Modified-Since compares with Date", () => {
    const noLm = stored({ "cache-control": "max-age=60" });
    expect(
      isNotModified(request("GET", { "if-modified-since": httpDate(T0 + SECOND) }), noLm.headers),
    ).toBe(true);
  });

  it("a 304 carries the cache-guiding fields and no content fields (RFC 9110 §15.4.5)", () => {
    const e = stored({
      "cache-control": "max-age=60",
      etag: '"v1"',
      "last-modified": LM,
      "content-type": "text/html",
      vary: "accept",
    });
    const names = notModifiedHeaders(e.headers)
      .map(([n]) => n)
      .sort();
    expect(names).toEqual(["cache-control", "date", "etag", "vary"]);
  });
});

describe("updating a stored response from a 304 (RFC 9111 §4.3.4)", () => {
  it.each([
    ["same strong tag selects", { etag: '"v1"' }, { etag: '"v1"' }, true],
    ["another strong tag does not select", { etag: '"v1"' }, { etag: '"v2"' }, false],
    ["a weak tag selects the same weak tag", { etag: 'W/"v1"' }, { etag: 'W/"v1"' }, true],
    [
      "a strong tag cannot select a weakly tagged response",
      { etag: 'W/"v1"' },
      { etag: '"v1"' },
      false,
    ],
    [
      "Last-Modified selects the same Last-Modified",
      { "last-modified": LM },
      { "last-modified": LM },
      true,
    ],
    ["a 304 without validators answers our own conditional request", { etag: '"v1"' }, {}, true],
    [
      "a 304 with only the same Last-Modified selects a tagged response",
      { etag: '"v1"', "last-modified": LM },
      { "last-modified": LM },
      true,
    ],
    [
      "a 304 with another Last-Modified does not select",
      { "last-modified": LM },
      { "last-modified": "Tue, 02 Dec 2025 10:00:00 GMT" },
      false,
    ],
  ])("%s", (_, storedHeaders, notModified, expected) => {
    const entry = stored({ "cache-control": "max-age=60", ...storedHeaders });
    expect(notModifiedSelects(entry, new Headers(notModified))).toBe(expected);
  });

  it("merging replaces updated fields and keeps the ones describing the body", () => {
    const merged = mergeNotModified(
      [
        ["content-type", "text/html"],
        ["content-length", "42"],
        ["cache-control", "max-age=60"],
        ["x-version", "1"],
      ],
      new Headers({
        "cache-control": "max-age=600",
        "content-length": "0",
        "x-version": "2",
        connection: "close",
      }),
    );
    expect(Object.fromEntries(merged)).toEqual({
      "content-type": "text/html",
      "content-length": "42",
      "cache-control": "max-age=600",
      "x-version": "2",
    });
  });

  it("a 304 renews the lifetime from the new response time", () => {
    const entry = stored({ "cache-control": "max-age=60", etag: '"v1"' });
    const later = T0 + 100 * SECOND;
    const plan = refreshFromNotModified({
      entry,
      notModified: new Headers({
        "cache-control": "max-age=300",
        date: httpDate(later),
        etag: '"v1"',
      }),
      request: request(),
      requestTime: later,
      responseTime: later,
      options: options(),
    });
    expect(plan.store).toBe(true);
    if (!plan.store) return;
    expect(plan.meta.freshUntil).toBe(later + 300 * SECOND);
    expect(plan.meta.status).toBe(200);
    expect(plan.meta.headers).toContainEqual(["cache-control", "max-age=300"]);
  });

  it("a 304 without Date renews the entry from the time it arrived (RFC 9110 §6.6.1)", () => {
    const entry = stored({ "cache-control": "max-age=60", etag: '"v1"' });
    const later = T0 + 600 * SECOND;
    const plan = refreshFromNotModified({
      entry,
      notModified: new Headers({ etag: '"v1"' }),
      request: request(),
      requestTime: later,
      responseTime: later,
      options: options(),
    });
    expect(plan.store && plan.meta.freshUntil).toBe(later + 60 * SECOND);
  });

  it("a 304 that now says no-store makes the entry unstorable", () => {
    const entry = stored({ "cache-control": "max-age=60", etag: '"v1"' });
    const plan = refreshFromNotModified({
      entry,
      notModified: new Headers({ "cache-control": "no-store" }),
      request: request(),
      requestTime: T0,
      responseTime: T0,
      options: options(),
    });
    expect(plan).toEqual({ store: false, reason: "no-store" });
  });
});

describe("applyNotModified: a 304 to this cache's revalidation, at both tiers", () => {
  const base = {
    request: request(),
    requestTime: T0 + 100 * SECOND,
    responseTime: T0 + 100 * SECOND,
    options: options(),
  };

  it("a 304 about another response does not select the entry", () => {
    const entry = stored({ "cache-control": "max-age=60", etag: '"v1"' });
    const result = applyNotModified({
      ...base,
      entry,
      notModified: new Headers({ etag: '"v2"' }),
    });
    expect(result).toEqual({ selects: false });
  });

  it("one that selects it renews it from the new response time", () => {
    const entry = stored({ "cache-control": "max-age=60", etag: '"v1"' });
    const result = applyNotModified({
      ...base,
      entry,
      notModified: new Headers({ "cache-control": "max-age=300", etag: '"v1"' }),
    });
    expect(result.selects && result.plan.store && result.plan.meta.freshUntil).toBe(
      base.responseTime + 300 * SECOND,
    );
  });

  it("the revalidating request's cookie does not unshare the stored body (NO_CREDENTIALS)", () => {
    // Heuristic freshness only: fetched with an unkeyed cookie it would not be shared.
    const entry = stored({
      "last-modified": httpDate(T0 - 1000 * SECOND),
      etag: '"v1"',
    });
    const withCookie = { ...base, request: request("GET", { cookie: "session=alice" }) };
    const result = applyNotModified({
      ...withCookie,
      entry,
      notModified: new Headers({ etag: '"v1"', date: httpDate(base.responseTime) }),
    });
    expect(result.selects && result.plan.store).toBe(true);
    // planStorage itself, with the request's credentials, would refuse it.
    const refused = refreshFromNotModified({
      ...withCookie,
      entry,
      notModified: new Headers({ etag: '"v1"', date: httpDate(base.responseTime) }),
    });
    expect(refused).toEqual({ store: false, reason: "cookie" });
  });

  it("one that now forbids storing says why", () => {
    const entry = stored({ "cache-control": "max-age=60", etag: '"v1"' });
    const result = applyNotModified({
      ...base,
      entry,
      notModified: new Headers({ "cache-control": "no-store", etag: '"v1"' }),
    });
    expect(result).toEqual({ selects: true, plan: { store: false, reason: "no-store" } });
  });

  it("the rule given applies to the renewed entry", () => {
    const entry = stored({ "cache-control": "max-age=60", etag: '"v1"' });
    const result = applyNotModified({
      ...base,
      entry,
      notModified: new Headers({ etag: '"v1"' }),
      rule: { ttl: { set: 5 } },
    });
    expect(result.selects && result.plan.store && result.plan.meta.freshnessLifetime).toBe(5);
  });
});
