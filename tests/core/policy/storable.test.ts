import { describe, expect, it } from "vitest";
import { type NotStoredReason, planStorage, type RuleEffect } from "../../../core/policy/index.ts";
import {
  HTTP_T0,
  httpDate,
  options,
  request,
  response,
  SECOND,
  stored,
  T0,
} from "../../helpers/http.ts";

type Case = {
  name: string;
  method?: string;
  requestHeaders?: Record<string, string>;
  status?: number;
  headers: Record<string, string>;
  rule?: RuleEffect;
  honorRequest?: boolean;
} & (
  | { stored: true; lifetime: number; source?: string }
  | { stored: false; reason: NotStoredReason }
);

const cases: Case[] = [
  // RFC 9111 §3: what a shared cache may store.
  {
    name: "max-age makes a 200 storable (§3, §5.2.2.1)",
    headers: { "cache-control": "max-age=60" },
    stored: true,
    lifetime: 60,
    source: "max-age",
  },
  {
    name: "s-maxage wins over max-age in a shared cache (§4.2.1, §5.2.2.10)",
    headers: { "cache-control": "max-age=60, s-maxage=600" },
    stored: true,
    lifetime: 600,
    source: "s-maxage",
  },
  {
    name: "Expires minus Date gives the lifetime (§4.2.1)",
    headers: { expires: httpDate(T0 + 120 * SECOND) },
    stored: true,
    lifetime: 120,
    source: "expires",
  },
  {
    name: "max-age wins over Expires (§5.3)",
    headers: { "cache-control": "max-age=5", expires: httpDate(T0 + 120 * SECOND), etag: '"a"' },
    stored: true,
    lifetime: 5,
  },
  {
    name: "an invalid Expires means already expired (§5.3): only kept to revalidate",
    headers: { expires: "0", etag: '"a"' },
    stored: true,
    lifetime: 0,
    source: "expires",
  },
  {
    name: "an invalid Expires without a validator is useless and not stored",
    headers: { expires: "0" },
    stored: false,
    reason: "stale-on-arrival",
  },
  {
    name: "no-store is never stored (§5.2.2.5)",
    headers: { "cache-control": "max-age=60, no-store" },
    stored: false,
    reason: "no-store",
  },
  {
    name: "NO-STORE in upper case is still no-store (§5.2)",
    headers: { "cache-control": "MAX-AGE=60, NO-STORE" },
    stored: false,
    reason: "no-store",
  },
  {
    name: "private is never stored by a shared cache (§5.2.2.7)",
    headers: { "cache-control": "private, max-age=60" },
    stored: false,
    reason: "private",
  },
  {
    name: "private with a field list stores the response without those fields (§5.2.2.7)",
    headers: { "cache-control": 'private="x-user", max-age=60', "x-user": "alice" },
    stored: true,
    lifetime: 60,
  },
  {
    name: "must-understand with an understood status ignores no-store (§5.2.2.3)",
    headers: { "cache-control": "must-understand, no-store, max-age=60" },
    stored: true,
    lifetime: 60,
  },
  {
    name: "must-understand with a status the cache does not know is not stored (§5.2.2.3)",
    status: 299,
    headers: { "cache-control": "must-understand, no-store, max-age=60" },
    stored: false,
    reason: "must-understand",
  },
  {
    name: "Authorization: not stored without public, s-maxage or must-revalidate (§3.5)",
    requestHeaders: { authorization: "Bearer x" },
    headers: { "cache-control": "max-age=60" },
    stored: false,
    reason: "authorization",
  },
  {
    name: "Authorization with public is stored (§3.5)",
    requestHeaders: { authorization: "Bearer x" },
    headers: { "cache-control": "public, max-age=60" },
    stored: true,
    lifetime: 60,
  },
  {
    name: "Authorization with s-maxage is stored (§3.5)",
    requestHeaders: { authorization: "Bearer x" },
    headers: { "cache-control": "s-maxage=60" },
    stored: true,
    lifetime: 60,
  },
  {
    name: "Authorization with must-revalidate is stored (§3.5)",
    requestHeaders: { authorization: "Bearer x" },
    headers: { "cache-control": "must-revalidate, max-age=60" },
    stored: true,
    lifetime: 60,
  },
  {
    name: "Set-Cookie responses are never shared",
    headers: { "cache-control": "public, max-age=60", "set-cookie": "sid=1" },
    stored: false,
    reason: "set-cookie",
  },
  {
    name: "Vary: * can never be reused, so it is not stored (§4.1)",
    headers: { "cache-control": "max-age=60", vary: "Accept, *" },
    stored: false,
    reason: "vary-star",
  },
  {
    name: "POST responses are not stored",
    method: "POST",
    headers: { "cache-control": "max-age=60" },
    stored: false,
    reason: "method",
  },
  {
    name: "HEAD responses are not stored (HEAD is answered from a stored GET)",
    method: "HEAD",
    headers: { "cache-control": "max-age=60" },
    stored: false,
    reason: "method",
  },
  {
    name: "206 partial content is not stored (§3.3 needs range support)",
    status: 206,
    headers: { "cache-control": "max-age=60" },
    stored: false,
    reason: "status",
  },
  {
    name: "304 is not a complete response and is not stored",
    status: 304,
    headers: { "cache-control": "max-age=60" },
    stored: false,
    reason: "status",
  },
  {
    name: "a 302 without explicit freshness is not heuristically cacheable (RFC 9110 §15.1)",
    status: 302,
    headers: { "last-modified": httpDate(T0 - 1000 * SECOND) },
    stored: false,
    reason: "status",
  },
  {
    name: "a 302 with max-age is stored (explicit freshness)",
    status: 302,
    headers: { "cache-control": "max-age=30" },
    stored: true,
    lifetime: 30,
  },
  {
    name: "a 500 with max-age is stored: the origin said so",
    status: 500,
    headers: { "cache-control": "max-age=5" },
    stored: true,
    lifetime: 5,
  },
  {
    name: "heuristic: 10% of the time since Last-Modified (§4.2.2)",
    headers: { "last-modified": httpDate(T0 - 1000 * SECOND) },
    stored: true,
    lifetime: 100,
    source: "heuristic",
  },
  {
    name: "a 404 without explicit freshness gets cache.negativeTtl, not the heuristic",
    status: 404,
    headers: { "last-modified": httpDate(T0 - 1000 * SECOND) },
    stored: true,
    lifetime: 60,
    source: "negative",
  },
  {
    name: "heuristic is capped by maxHeuristicTtl",
    headers: { "last-modified": httpDate(T0 - 10_000_000 * SECOND) },
    stored: true,
    lifetime: 86_400,
  },
  {
    name: "public makes a 302 heuristically cacheable (§4.2.2)",
    status: 302,
    headers: { "cache-control": "public", "last-modified": httpDate(T0 - 1000 * SECOND) },
    stored: true,
    lifetime: 100,
  },
  {
    name: "no freshness and no Last-Modified: nothing to gain, not stored",
    headers: {},
    stored: false,
    reason: "stale-on-arrival",
  },
  {
    name: "no-cache is stored for revalidation when it has a validator (§5.2.2.4)",
    headers: { "cache-control": "no-cache, max-age=600", etag: '"v1"' },
    stored: true,
    lifetime: 0,
    source: "no-cache",
  },
  // RFC 9213: CDN-Cache-Control.
  {
    name: "CDN-Cache-Control overrides Cache-Control (RFC 9213 §2.2)",
    headers: { "cdn-cache-control": "max-age=600", "cache-control": "max-age=10" },
    stored: true,
    lifetime: 600,
  },
  {
    name: "CDN-Cache-Control also overrides Expires (RFC 9213 §2.2)",
    headers: {
      "cdn-cache-control": "stale-if-error=10",
      expires: httpDate(T0 + 500 * SECOND),
      "last-modified": httpDate(T0 - 1000 * SECOND),
    },
    stored: true,
    lifetime: 100,
    source: "heuristic",
  },
  {
    name: "CDN-Cache-Control private keeps it out though Cache-Control is public",
    headers: { "cdn-cache-control": "private", "cache-control": "public, max-age=600" },
    stored: false,
    reason: "private",
  },
  {
    name: "CDN-Cache-Control no-store keeps it out though Cache-Control allows (RFC 9213)",
    headers: { "cdn-cache-control": "no-store", "cache-control": "max-age=600" },
    stored: false,
    reason: "no-store",
  },
  {
    name: "an unparsable CDN-Cache-Control is ignored and Cache-Control applies (RFC 9213 §2.1)",
    headers: { "cdn-cache-control": "max-age=(", "cache-control": "max-age=10" },
    stored: true,
    lifetime: 10,
  },
  {
    name: "Cache-Control public lets Authorization through only if CDN-Cache-Control is absent",
    requestHeaders: { authorization: "Basic eA==" },
    headers: { "cdn-cache-control": "max-age=60", "cache-control": "public" },
    stored: false,
    reason: "authorization",
  },
  // TTL rules.
  {
    name: "rule ttl.set replaces the origin's lifetime",
    headers: { "cache-control": "max-age=10" },
    rule: { ttl: { set: 3600 } },
    stored: true,
    lifetime: 3600,
    source: "rule",
  },
  {
    name: "rule ttl.set makes a response without cache headers storable",
    headers: {},
    rule: { ttl: { set: 60 } },
    stored: true,
    lifetime: 60,
    source: "rule",
  },
  {
    name: "rule ttl.floor raises a short lifetime",
    headers: { "cache-control": "max-age=10" },
    rule: { ttl: { floor: 300 } },
    stored: true,
    lifetime: 300,
  },
  {
    name: "rule ttl.floor leaves a longer lifetime alone",
    headers: { "cache-control": "max-age=900" },
    rule: { ttl: { floor: 300 } },
    stored: true,
    lifetime: 900,
    source: "max-age",
  },
  {
    name: "rule ttl.cap lowers a long lifetime",
    headers: { "cache-control": "max-age=31536000" },
    rule: { ttl: { cap: 86400 } },
    stored: true,
    lifetime: 86400,
    source: "rule",
  },
  {
    name: "rule ttl.cap alone never makes an uncacheable 302 cacheable",
    status: 302,
    headers: {},
    rule: { ttl: { cap: 60 } },
    stored: false,
    reason: "status",
  },
  {
    name: "rule ttl.floor overrides the origin's no-cache",
    headers: { "cache-control": "no-cache" },
    rule: { ttl: { floor: 60 } },
    stored: true,
    lifetime: 60,
  },
  {
    name: "a rule never overrides no-store",
    headers: { "cache-control": "no-store" },
    rule: { ttl: { set: 60 } },
    stored: false,
    reason: "no-store",
  },
  {
    name: "a rule never overrides private",
    headers: { "cache-control": "private" },
    rule: { ttl: { set: 60 } },
    stored: false,
    reason: "private",
  },
  {
    name: "a rule never overrides Set-Cookie",
    headers: { "set-cookie": "a=b" },
    rule: { ttl: { set: 60 } },
    stored: false,
    reason: "set-cookie",
  },
  {
    name: "a bypass rule stores nothing",
    headers: { "cache-control": "max-age=60" },
    rule: { bypass: true },
    stored: false,
    reason: "rule-bypass",
  },
  // Request directives.
  {
    name: "request no-store is ignored by default (a client cannot steer the CDN)",
    requestHeaders: { "cache-control": "no-store" },
    headers: { "cache-control": "max-age=60" },
    stored: true,
    lifetime: 60,
  },
  {
    name: "request no-store is obeyed with honorRequestNoCache (§5.2.1.5)",
    honorRequest: true,
    requestHeaders: { "cache-control": "no-store" },
    headers: { "cache-control": "max-age=60" },
    stored: false,
    reason: "request-no-store",
  },
];

describe("planStorage: what a shared cache stores, and for how long", () => {
  it.each(cases)("$name", (c) => {
    const plan = planStorage({
      request: request(c.method ?? "GET", c.requestHeaders),
      response: response(c.status ?? 200, { date: HTTP_T0, ...c.headers }),
      requestTime: T0,
      responseTime: T0,
      rule: c.rule,
      options: options({ honorRequestNoCache: c.honorRequest ?? false }),
    });
    if (c.stored) {
      expect(plan).toMatchObject({ store: true });
      if (!plan.store) return;
      expect(plan.meta.freshnessLifetime).toBe(c.lifetime);
      if (c.source) expect(plan.meta.lifetimeSource).toBe(c.source);
    } else {
      expect(plan).toEqual({ store: false, reason: c.reason });
    }
  });
});

describe("planStorage: lifetimes are absolute and computed once (§4.2.3)", () => {
  it("freshUntil subtracts the Age the response already had", () => {
    const meta = stored({ "cache-control": "max-age=100", age: "30" });
    expect(meta.initialAge).toBe(30);
    expect(meta.freshUntil).toBe(T0 + 70 * SECOND);
  });

  it("the response delay counts towards age (corrected_age_value)", () => {
    const meta = stored(
      { "cache-control": "max-age=100", age: "10" },
      { requestTime: T0 - 2 * SECOND, responseTime: T0 },
    );
    expect(meta.initialAge).toBe(12);
  });

  it("a Date in the past gives an apparent age", () => {
    const meta = stored({ "cache-control": "max-age=100", date: httpDate(T0 - 40 * SECOND) });
    expect(meta.initialAge).toBe(40);
    expect(meta.freshUntil).toBe(T0 + 60 * SECOND);
  });

  it("an invalid Age is ignored (§5.1)", () => {
    const meta = stored({ "cache-control": "max-age=100", age: "ten" });
    expect(meta.initialAge).toBe(0);
  });

  it("a response older than its lifetime with no validator is not stored", () => {
    const plan = planStorage({
      request: request(),
      response: response(200, { date: HTTP_T0, "cache-control": "max-age=10", age: "20" }),
      requestTime: T0,
      responseTime: T0,
      options: options(),
    });
    expect(plan).toEqual({ store: false, reason: "stale-on-arrival" });
  });

  it("stale-while-revalidate and stale-if-error windows follow freshness (RFC 5861)", () => {
    const meta = stored({
      "cache-control": "max-age=60, stale-while-revalidate=30, stale-if-error=600",
    });
    expect(meta.freshUntil).toBe(T0 + 60 * SECOND);
    expect(meta.staleWhileRevalidateUntil).toBe(T0 + 90 * SECOND);
    expect(meta.staleIfErrorUntil).toBe(T0 + 660 * SECOND);
    expect(meta.deleteAt).toBe(T0 + 660 * SECOND);
  });

  it("an entry with a validator is kept `keep` seconds past its last use, for revalidation", () => {
    const meta = stored(
      { "cache-control": "max-age=60", etag: '"x"' },
      { options: options({ keep: 100 }) },
    );
    expect(meta.deleteAt).toBe(T0 + 160 * SECOND);
  });

  it("rule stale windows replace the origin's", () => {
    const meta = stored(
      { "cache-control": "max-age=60, stale-while-revalidate=5" },
      { rule: { staleWhileRevalidate: 50, staleIfError: 70 } },
    );
    expect(meta.staleWhileRevalidateUntil).toBe(T0 + 110 * SECOND);
    expect(meta.staleIfErrorUntil).toBe(T0 + 130 * SECOND);
  });

  it("configured default stale windows apply when neither rule nor origin sets one", () => {
    const meta = stored(
      { "cache-control": "max-age=60" },
      { options: options({ defaultStaleWhileRevalidate: 10, defaultStaleIfError: 20 }) },
    );
    expect(meta.staleWhileRevalidateUntil).toBe(T0 + 70 * SECOND);
    expect(meta.staleIfErrorUntil).toBe(T0 + 80 * SECOND);
  });

  it.each([
    [
      "must-revalidate",
      "max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=30",
    ],
    [
      "proxy-revalidate",
      "max-age=60, proxy-revalidate, stale-while-revalidate=30, stale-if-error=30",
    ],
  ])("%s forbids any stale serving, even with stale-* directives or rules (§4.2.4)", (_, cc) => {
    const meta = stored({ "cache-control": cc }, { rule: { staleWhileRevalidate: 99 } });
    expect(meta.staleWhileRevalidateUntil).toBe(meta.freshUntil);
    expect(meta.staleIfErrorUntil).toBe(meta.freshUntil);
    expect(meta.staleForbidden).toBe(true);
  });

  it("s-maxage keeps the origin's own stale-while-revalidate but not configured defaults", () => {
    const withOwn = stored(
      { "cache-control": "s-maxage=60, stale-while-revalidate=30" },
      { options: options({ defaultStaleIfError: 99 }) },
    );
    expect(withOwn.staleWhileRevalidateUntil).toBe(T0 + 90 * SECOND);
    expect(withOwn.staleIfErrorUntil).toBe(T0 + 60 * SECOND);
    expect(withOwn.staleForbidden).toBe(true);
  });

  it("does not store hop-by-hop, Connection-listed, Age or private-listed fields", () => {
    const meta = stored({
      "cache-control": 'max-age=60, private="x-secret", no-cache="x-session"',
      connection: "close, x-conn-only",
      "x-conn-only": "1",
      "keep-alive": "timeout=5",
      age: "3",
      "x-secret": "s",
      "x-session": "t",
      "content-type": "text/plain",
    });
    const names = meta.headers.map(([n]) => n);
    expect(names).toContain("content-type");
    expect(names).toContain("cache-control");
    for (const gone of [
      "connection",
      "x-conn-only",
      "keep-alive",
      "age",
      "x-secret",
      "x-session",
    ]) {
      expect(names).not.toContain(gone);
    }
  });

  it("captures the request's values for the response's Vary (§4.1)", () => {
    const meta = stored(
      { "cache-control": "max-age=60", vary: "Accept-Encoding, X-Device" },
      { request: request("GET", { "accept-encoding": "GZIP,  br", "x-device": "mobile" }) },
    );
    expect(meta.vary).toEqual({
      fields: ["accept-encoding", "x-device"],
      values: ["gzip,br", "mobile"],
      raw: ["GZIP,  br", "mobile"],
    });
  });

  it("collects purge tags from Surrogate-Key and Cache-Tag", () => {
    const meta = stored({
      "cache-control": "max-age=60",
      "surrogate-key": "a b  a",
      "cache-tag": "c, d",
    });
    expect(meta.tags).toEqual(["a", "b", "c", "d"]);
  });
});

describe("planStorage: rules speak of this cache, and never cache errors by accident", () => {
  it("ttl.set counts from arrival: an upstream Age does not shorten it", () => {
    const meta = stored(
      { "cache-control": "max-age=300", age: "100" },
      { rule: { ttl: { set: 60 } } },
    );
    expect(meta.freshUntil).toBe(T0 + 60 * SECOND);
    expect(meta.initialAge).toBe(100);
  });

  it("ttl.floor raises what remains of the origin's freshness", () => {
    const meta = stored(
      { "cache-control": "max-age=100", age: "90" },
      { rule: { ttl: { floor: 30 } } },
    );
    expect(meta.freshUntil).toBe(T0 + 30 * SECOND);
  });

  it("ttl.cap lowers what remains of the origin's freshness", () => {
    const meta = stored(
      { "cache-control": "max-age=1000", age: "100" },
      { rule: { ttl: { cap: 60 } } },
    );
    expect(meta.freshUntil).toBe(T0 + 60 * SECOND);
  });

  it.each([
    ["floor", { floor: 86400 }],
    ["set", { set: 86400 }],
  ])("a catch-all %s rule does not cache a 503 without cache headers", (_, ttl) => {
    const plan = planStorage({
      request: request(),
      response: response(503, { date: HTTP_T0, etag: '"x"' }),
      requestTime: T0,
      responseTime: T0,
      rule: { ttl },
      options: options(),
    });
    expect(plan).toEqual({ store: false, reason: "status" });
  });

  it("a rule that names the status may cache it", () => {
    const meta = stored({}, { status: 302, rule: { match: { status: [302] }, ttl: { set: 30 } } });
    expect(meta.freshnessLifetime).toBe(30);
  });

  it("an unqualified no-cache forbids stale serving even when a rule sets the ttl (§5.2.2.4)", () => {
    const meta = stored(
      { "cache-control": "no-cache", etag: '"v1"' },
      {
        rule: { ttl: { set: 60 }, staleWhileRevalidate: 30, staleIfError: 300 },
        options: options({ defaultStaleIfError: 600 }),
      },
    );
    expect(meta.freshUntil).toBe(T0 + 60 * SECOND);
    expect(meta.staleWhileRevalidateUntil).toBe(meta.freshUntil);
    expect(meta.staleIfErrorUntil).toBe(meta.freshUntil);
  });

  it("public does not make a 500 heuristically cacheable", () => {
    const plan = planStorage({
      request: request(),
      response: response(500, {
        date: HTTP_T0,
        "cache-control": "public",
        "last-modified": httpDate(T0 - 1e6 * SECOND),
      }),
      requestTime: T0,
      responseTime: T0,
      options: options(),
    });
    expect(plan).toEqual({ store: false, reason: "status" });
  });

  it("a response without Date is stored with the time it arrived (RFC 9110 §6.6.1)", () => {
    const plan = planStorage({
      request: request(),
      response: response(200, { "cache-control": "max-age=60" }),
      requestTime: T0,
      responseTime: T0,
      options: options(),
    });
    expect(plan.store && plan.meta.headers).toContainEqual(["date", HTTP_T0]);
  });
});
