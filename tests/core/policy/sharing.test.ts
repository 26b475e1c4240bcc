/**
 * The sharing rule (core/policy/sharing.ts): what a response fetched for one client may
 * do for another, piece by piece, and through planStorage and decide.
 */
import { describe, expect, it } from "vitest";
import {
  decide,
  type EntryMeta,
  followerMayShare,
  followerMayShareError,
  hasUnkeyedCookie,
  NO_CREDENTIALS,
  type NotStoredReason,
  type PolicyOptions,
  planStorage,
  type RuleEffect,
  requestCredentials,
  selectsFor,
  wasFresh,
} from "../../../core/policy/index.ts";
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

const KEYED = { keyedCookies: ["currency", "lang"] };
/** A Last-Modified 1000 s before Date: a heuristic lifetime of 100 s (§4.2.2). */
const OLD = httpDate(T0 - 1000 * SECOND);

describe("requestCredentials", () => {
  it.each<
    [
      name: string,
      headers: Record<string, string>,
      o: Partial<PolicyOptions>,
      authorization: boolean,
      cookie: boolean,
    ]
  >([
    ["nothing", {}, {}, false, false],
    ["Authorization", { authorization: "Bearer t" }, {}, true, false],
    ["an empty Authorization is still one", { authorization: "" }, {}, true, false],
    ["a cookie", { cookie: "sid=1" }, {}, false, true],
    [
      "Authorization and a cookie: both count",
      { authorization: "Bearer t", cookie: "sid=1" },
      {},
      true,
      true,
    ],
    ["only keyed cookies", { cookie: "currency=EUR; lang=fr" }, KEYED, false, false],
    ["a keyed and an unkeyed cookie", { cookie: "currency=EUR; sid=1" }, KEYED, false, true],
    ["a nameless cookie", { cookie: "currency=EUR; abc" }, KEYED, false, true],
    ["a cookie, with trustCookies", { cookie: "sid=1" }, { trustCookies: true }, false, false],
    [
      "Authorization, with trustCookies",
      { authorization: "Basic eA==", cookie: "sid=1" },
      { trustCookies: true },
      true,
      false,
    ],
  ])("%s", (_, headers, o, authorization, cookie) => {
    expect(requestCredentials(new Headers(headers), options(o))).toEqual({ authorization, cookie });
  });
});

describe("hasUnkeyedCookie", () => {
  const keyed = ["currency", "lang"];
  it.each<[header: string | null, unkeyed: boolean]>([
    [null, false],
    ["", false],
    [" ; ;", false],
    ["currency=EUR", false],
    ["currency=EUR; lang=fr", false],
    // RFC 6265 §5.2: whitespace around the name is not part of it.
    ["  currency = EUR ;lang=fr  ", false],
    ["currency=EUR; lang=fr; sid=1", true],
    ["sid=1", true],
    // Cookie names are case-sensitive.
    ["Currency=EUR", true],
    // A cookie without a name: browsers send its value alone.
    ["abc", true],
    ["currency=EUR; abc", true],
    ["langs", true],
    ["=abc", true],
  ])("%j → %s", (header, unkeyed) => {
    expect(hasUnkeyedCookie(header, keyed)).toBe(unkeyed);
  });

  it("with no keyed cookies, any cookie is unkeyed", () => {
    expect(hasUnkeyedCookie("currency=EUR", [])).toBe(true);
  });
});

describe("wasFresh", () => {
  it.each<[freshUntil: number, fresh: boolean]>([
    [T0 + 1, true],
    [T0 + 60 * SECOND, true],
    [T0, false],
    [T0 - 10 * SECOND, false],
  ])("freshUntil %d, received at T0 → %s", (freshUntil, fresh) => {
    expect(wasFresh({ freshUntil, responseTime: T0 })).toBe(fresh);
  });

  it.each<[cacheControl: string, extra: Record<string, string>, fresh: boolean]>([
    ["max-age=60", {}, true],
    ["max-age=0", { etag: '"a"' }, false],
    ["no-cache", { etag: '"a"' }, false],
    ["max-age=60", { age: "60", etag: '"a"' }, false],
  ])("a stored %s %j was fresh: %s", (cc, extra, fresh) => {
    expect(wasFresh(stored({ "cache-control": cc, ...extra }))).toBe(fresh);
  });
});

describe("selectsFor", () => {
  const varying = stored(
    { "cache-control": "max-age=60", vary: "Accept-Language" },
    { request: request("GET", { "accept-language": "en" }) },
  );
  const anonymous = stored({ "cache-control": "max-age=60" });
  const shareable = stored({ "cache-control": "public, max-age=60" });

  it.each<[name: string, entry: EntryMeta, headers: Record<string, string>, result: string]>([
    ["no Vary, no Authorization", anonymous, {}, "ok"],
    ["Vary selects it (§4.1)", varying, { "accept-language": "en" }, "ok"],
    ["Vary does not select it", varying, { "accept-language": "fr" }, "vary-miss"],
    ["a Vary field absent from the request", varying, {}, "vary-miss"],
    [
      "Authorization, entry stored for everyone",
      anonymous,
      { authorization: "Bearer t" },
      "authorization",
    ],
    [
      "Authorization, entry shareable with it (§3.5)",
      shareable,
      { authorization: "Bearer t" },
      "ok",
    ],
    [
      "Vary is checked first",
      varying,
      { "accept-language": "fr", authorization: "Bearer t" },
      "vary-miss",
    ],
  ])("%s → %s", (_, entry, headers, result) => {
    expect(selectsFor(entry, request("GET", headers))).toBe(result);
  });
});

describe("followerMayShare: a response still arriving, handed to a collapsed request", () => {
  const plan = (
    headers: Record<string, string>,
    leader: Record<string, string> = {},
  ): ReturnType<typeof planStorage> =>
    planStorage({
      request: request("GET", leader),
      response: response(200, { date: HTTP_T0, ...headers }),
      requestTime: T0,
      responseTime: T0,
      options: options(),
    });

  it.each<
    [
      name: string,
      headers: Record<string, string>,
      follower: Record<string, string>,
      share: boolean,
    ]
  >([
    ["fresh and storable", { "cache-control": "max-age=60" }, {}, true],
    ["not storable (private)", { "cache-control": "private, max-age=60" }, {}, false],
    [
      "not storable (Set-Cookie)",
      { "cache-control": "max-age=60", "set-cookie": "a=1" },
      {},
      false,
    ],
    ["stored only to be revalidated", { "cache-control": "max-age=0", etag: '"a"' }, {}, false],
    [
      "stored only to be revalidated (no-cache)",
      { "cache-control": "no-cache", etag: '"a"' },
      {},
      false,
    ],
    [
      "Vary selects it for the follower",
      { "cache-control": "max-age=60", vary: "Accept-Language" },
      { "accept-language": "en" },
      true,
    ],
    [
      "Vary does not select it for the follower",
      { "cache-control": "max-age=60", vary: "Accept-Language" },
      { "accept-language": "fr" },
      false,
    ],
    [
      "a follower with Authorization",
      { "cache-control": "max-age=60" },
      { authorization: "Bearer t" },
      false,
    ],
    [
      "a follower with Authorization, shareable with it",
      { "cache-control": "public, max-age=60" },
      { authorization: "Bearer t" },
      true,
    ],
  ])("%s → %s", (_, headers, follower, share) => {
    expect(
      followerMayShare(plan(headers, { "accept-language": "en" }), request("GET", follower)),
    ).toBe(share);
  });
});

describe("followerMayShareError: an origin's error handed to collapsed requests", () => {
  const leader = request("GET", { "accept-language": "en" });
  const share = (
    status: number,
    headers: Record<string, string>,
    follower: Record<string, string> = { "accept-language": "en" },
    o: Partial<PolicyOptions> = {},
  ) =>
    followerMayShareError(
      status,
      new Headers(headers),
      leader,
      request("GET", follower),
      options(o),
    );

  it.each<[status: number, shared: boolean]>([
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [599, true],
    [429, true],
    [200, false],
    [304, false],
    [404, false],
    [400, false],
    [428, false],
    [499, false],
  ])("status %d → %s", (status, shared) => {
    expect(share(status, {})).toBe(shared);
  });

  it.each<
    [
      name: string,
      headers: Record<string, string>,
      follower: Record<string, string> | undefined,
      shared: boolean,
    ]
  >([
    ["plain 503", { "retry-after": "5" }, undefined, true],
    ["Cache-Control: private", { "cache-control": "private" }, undefined, false],
    ["private with a field list", { "cache-control": 'private="x-user"' }, undefined, false],
    ["Set-Cookie", { "set-cookie": "sid=1" }, undefined, false],
    [
      "CDN-Cache-Control: private (RFC 9213)",
      { "cdn-cache-control": "private", "cache-control": "public" },
      undefined,
      false,
    ],
    ["Vary: *", { vary: "*" }, undefined, false],
    [
      "Vary on a field that matches",
      { vary: "Accept-Language" },
      { "accept-language": "en" },
      true,
    ],
    [
      "Vary on a field that differs",
      { vary: "Accept-Language" },
      { "accept-language": "fr" },
      false,
    ],
    ["Vary on a field the follower lacks", { vary: "Accept-Language" }, {}, false],
    ["Vary on a field neither sent", { vary: "X-Device" }, {}, true],
  ])("a 503 with %s → %s", (_, headers, follower, shared) => {
    expect(share(503, headers, follower)).toBe(shared);
  });

  it("CDN-Cache-Control is not obeyed when the cache does not target it", () => {
    expect(
      share(503, { "cdn-cache-control": "private" }, undefined, { targetedCacheControl: [] }),
    ).toBe(true);
  });
});

describe("planStorage with the credentials the body was fetched with (NO_CREDENTIALS)", () => {
  it("a body a 304 renews for a request with a cookie stays stored, and its Vary still selects it", () => {
    const entry = stored({
      "last-modified": httpDate(T0 - 86_400_000),
      vary: "Cookie",
      etag: '"e"',
    });
    const bob = request("GET", { cookie: "session=bob" });
    const renewed = planStorage({
      request: bob,
      credentials: NO_CREDENTIALS,
      response: response(200, { "last-modified": httpDate(T0 - 86_400_000), vary: "Cookie" }),
      requestTime: T0,
      responseTime: T0,
      options: options(),
    });
    expect(renewed.store).toBe(true);
    // Vary is captured from the request that is really asking, cookie and all.
    expect(renewed.store && selectsFor(renewed.meta, bob)).toBe("ok");
    expect(renewed.store && selectsFor(renewed.meta, request("GET"))).toBe("vary-miss");
    expect(entry.vary?.fields).toEqual(["cookie"]);
  });

  it("without the override, the same request's cookie makes a heuristic page unshareable", () => {
    const plan = planStorage({
      request: request("GET", { cookie: "session=bob" }),
      response: response(200, { "last-modified": httpDate(T0 - 86_400_000) }),
      requestTime: T0,
      responseTime: T0,
      options: options(),
    });
    expect(plan).toEqual({ store: false, reason: "cookie" });
  });
});

describe("planStorage: a response fetched with a cookie the key does not hold", () => {
  type Case = {
    name: string;
    headers: Record<string, string>;
    requestHeaders?: Record<string, string>;
    rule?: RuleEffect;
    options?: Partial<PolicyOptions>;
  } & ({ stored: true } | { stored: false; reason: NotStoredReason });
  const COOKIE = { cookie: "sid=alice" };

  const cases: Case[] = [
    {
      name: "heuristic freshness only: not stored, the page may be alice's",
      headers: { "last-modified": OLD },
      stored: false,
      reason: "cookie",
    },
    {
      name: "the same response without a cookie is stored",
      headers: { "last-modified": OLD },
      requestHeaders: {},
      stored: true,
    },
    { name: "max-age > 0", headers: { "cache-control": "max-age=60" }, stored: true },
    { name: "s-maxage", headers: { "cache-control": "s-maxage=60" }, stored: true },
    {
      name: "Expires in the future",
      headers: { expires: httpDate(T0 + 60 * SECOND) },
      stored: true,
    },
    {
      name: "public, on a heuristic lifetime",
      headers: { "cache-control": "public", "last-modified": OLD },
      stored: true,
    },
    {
      name: "CDN-Cache-Control max-age (RFC 9213)",
      headers: { "cdn-cache-control": "max-age=60", "last-modified": OLD },
      stored: true,
    },
    {
      name: "max-age=0: explicit, but no freshness to share",
      headers: { "cache-control": "max-age=0", etag: '"a"' },
      stored: false,
      reason: "cookie",
    },
    {
      name: "Expires in the past",
      headers: { expires: httpDate(T0 - 60 * SECOND), etag: '"a"' },
      stored: false,
      reason: "cookie",
    },
    {
      name: "max-age already used up upstream (Age ≥ max-age)",
      headers: { "cache-control": "max-age=60", age: "60", etag: '"a"' },
      stored: false,
      reason: "cookie",
    },
    {
      name: "a rule that names the path and sets a ttl",
      headers: { "last-modified": OLD },
      rule: { match: { path: "/static/**" }, ttl: { set: 300 } },
      stored: true,
    },
    {
      name: "a rule that names the path and raises the ttl",
      headers: { "last-modified": OLD },
      rule: { match: { path: "/static/**" }, ttl: { floor: 300 } },
      stored: true,
    },
    {
      name: "a rule with a ttl but no path is not explicit enough",
      headers: { "last-modified": OLD },
      rule: { ttl: { set: 300 } },
      stored: false,
      reason: "cookie",
    },
    {
      name: "a rule with only stale windows adds no freshness",
      headers: { "last-modified": OLD },
      rule: { match: { path: "/static/**" }, staleWhileRevalidate: 60 },
      stored: false,
      reason: "cookie",
    },
    {
      name: "only keyed cookies: treated as anonymous",
      headers: { "last-modified": OLD },
      requestHeaders: { cookie: "currency=EUR" },
      options: KEYED,
      stored: true,
    },
    {
      name: "a keyed and an unkeyed cookie",
      headers: { "last-modified": OLD },
      requestHeaders: { cookie: "currency=EUR; sid=alice" },
      options: KEYED,
      stored: false,
      reason: "cookie",
    },
    {
      name: "trustCookies",
      headers: { "last-modified": OLD },
      options: { trustCookies: true },
      stored: true,
    },
    {
      name: "with Authorization too, must-revalidate on a heuristic lifetime: the cookie rule still applies",
      headers: { "cache-control": "must-revalidate", "last-modified": OLD },
      requestHeaders: { ...COOKIE, authorization: "Bearer t" },
      stored: false,
      reason: "cookie",
    },
    {
      name: "with Authorization too, s-maxage satisfies both rules",
      headers: { "cache-control": "s-maxage=60" },
      requestHeaders: { ...COOKIE, authorization: "Bearer t" },
      stored: true,
    },
    {
      name: "with Authorization too, max-age alone satisfies only the cookie rule (§3.5)",
      headers: { "cache-control": "max-age=60" },
      requestHeaders: { ...COOKIE, authorization: "Bearer t" },
      stored: false,
      reason: "authorization",
    },
  ];

  it.each(cases)("$name", (c) => {
    const plan = planStorage({
      request: request("GET", c.requestHeaders ?? COOKIE),
      response: response(200, { date: HTTP_T0, ...c.headers }),
      requestTime: T0,
      responseTime: T0,
      rule: c.rule,
      options: options(c.options),
    });
    if (c.stored) expect(plan).toMatchObject({ store: true });
    else expect(plan).toEqual({ store: false, reason: c.reason });
  });
});

describe("planStorage: stale windows only for what was stated fresh (RFC 5861)", () => {
  const DEFAULTS = options({ defaultStaleWhileRevalidate: 30, defaultStaleIfError: 600 });

  /** Seconds of stale-while-revalidate and stale-if-error after freshness ends. */
  const windows = (m: EntryMeta) => [
    (m.staleWhileRevalidateUntil - m.freshUntil) / SECOND,
    (m.staleIfErrorUntil - m.freshUntil) / SECOND,
  ];

  it.each<
    [
      name: string,
      headers: Record<string, string>,
      rule: RuleEffect | undefined,
      expected: number[],
    ]
  >([
    ["defaults on max-age", { "cache-control": "max-age=60" }, undefined, [30, 600]],
    ["defaults on Expires", { expires: httpDate(T0 + 60 * SECOND) }, undefined, [30, 600]],
    ["no defaults on a heuristic lifetime", { "last-modified": OLD }, undefined, [0, 0]],
    [
      "no rule windows on a heuristic lifetime",
      { "last-modified": OLD },
      { staleWhileRevalidate: 50, staleIfError: 70 },
      [0, 0],
    ],
    [
      "rule windows on a rule's lifetime",
      { "last-modified": OLD },
      { ttl: { set: 60 }, staleWhileRevalidate: 50, staleIfError: 70 },
      [50, 70],
    ],
    ["defaults on a rule's lifetime", { "last-modified": OLD }, { ttl: { set: 60 } }, [30, 600]],
    [
      "the origin's own stale-while-revalidate on a heuristic lifetime is kept",
      { "cache-control": "stale-while-revalidate=45", "last-modified": OLD },
      undefined,
      [45, 0],
    ],
    [
      "the origin's own windows on max-age win over the defaults",
      { "cache-control": "max-age=60, stale-while-revalidate=5, stale-if-error=7" },
      undefined,
      [5, 7],
    ],
    [
      "none when never fresh, whatever the origin, the rule or the defaults say",
      { "cache-control": "max-age=0, stale-while-revalidate=60, stale-if-error=60", etag: '"a"' },
      { staleWhileRevalidate: 50, staleIfError: 70 },
      [0, 0],
    ],
  ])("%s → %j", (_, headers, rule, expected) => {
    const meta = stored(headers, { rule, options: DEFAULTS });
    expect(windows(meta)).toEqual(expected);
  });

  it("a copy never fresh is marked never to be served stale", () => {
    expect(stored({ "cache-control": "max-age=0", etag: '"a"' }).staleForbidden).toBe(true);
  });
});

describe("decide: max-stale does not reach a copy that was never fresh (§5.2.1.2)", () => {
  const asking = request("GET", { "cache-control": "max-stale=3600" });

  it.each<[name: string, headers: Record<string, string>, at: number, kind: string]>([
    [
      "fresh once, stale now: max-stale serves it",
      { "cache-control": "max-age=60" },
      70,
      "stale-allowed",
    ],
    ["max-age=0: revalidated", { "cache-control": "max-age=0", etag: '"a"' }, 1, "revalidate"],
    ["no-cache: revalidated", { "cache-control": "no-cache", etag: '"a"' }, 1, "revalidate"],
    [
      "used up upstream (Age = max-age): revalidated",
      { "cache-control": "max-age=60", age: "60", etag: '"a"' },
      1,
      "revalidate",
    ],
    [
      "a heuristic lifetime of 0: revalidated",
      { "last-modified": HTTP_T0, etag: '"a"' },
      1,
      "revalidate",
    ],
  ])("%s", (_, headers, at, kind) => {
    const entry = stored(headers);
    expect(decide(asking, entry, T0 + at * SECOND, options())).toMatchObject({ kind });
  });

  // An entry stored before planStorage marked never-fresh copies (or by another tier)
  // may lack the mark: decide checks the lifetimes themselves.
  it("a never-fresh entry without the staleForbidden mark is still revalidated", () => {
    const entry = {
      ...stored({ "cache-control": "max-age=0", etag: '"a"' }),
      staleForbidden: false,
    };
    expect(decide(asking, entry, T0 + SECOND, options())).toMatchObject({
      kind: "revalidate",
      reason: "stale",
    });
  });
});
