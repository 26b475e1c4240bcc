import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCacheControl, parseTargetedCacheControl } from "../../../core/http/cache-control.ts";
import { decide, isHopByHop, planStorage } from "../../../core/policy/index.ts";
import { HTTP_T0, options, request, response, SECOND, T0 } from "../../helpers/http.ts";

// Whatever the origin and the client send, some things must never happen. These
// properties throw random combinations of real directives and fields at the policy.
const directive = fc.constantFrom(
  "public",
  "private",
  'private="x-user"',
  "no-store",
  "no-cache",
  'no-cache="x-user"',
  "must-revalidate",
  "proxy-revalidate",
  "must-understand",
  "immutable",
  "max-age=0",
  "max-age=60",
  "max-age=abc",
  "s-maxage=30",
  "stale-while-revalidate=30",
  "stale-if-error=300",
);
const cacheControl = fc.array(directive, { maxLength: 5 }).map((d) => d.join(", "));
const optionalField = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const responseHeaders = fc.record({
  "cache-control": optionalField(cacheControl),
  "cdn-cache-control": optionalField(
    fc.constantFrom("max-age=600", "no-store", "private", "max-age=("),
  ),
  expires: optionalField(fc.constantFrom("0", "Thu, 01 Jan 2026 00:10:00 GMT")),
  "last-modified": optionalField(fc.constantFrom("Mon, 01 Dec 2025 00:00:00 GMT")),
  etag: optionalField(fc.constantFrom('"v1"', 'W/"v1"')),
  age: optionalField(fc.constantFrom("0", "30", "-1", "1e3")),
  vary: optionalField(fc.constantFrom("x-device", "accept-encoding, x-device", "*")),
  "set-cookie": optionalField(fc.constantFrom("sid=1")),
  connection: optionalField(fc.constantFrom("close, x-hop")),
  "x-hop": optionalField(fc.constantFrom("1")),
  "x-user": optionalField(fc.constantFrom("alice")),
});
const status = fc.constantFrom(200, 203, 204, 206, 301, 302, 304, 404, 410, 500, 503);
const requestHeaders = fc.record({
  authorization: optionalField(fc.constantFrom("Bearer t")),
  "x-device": optionalField(fc.constantFrom("mobile", "tv")),
  "cache-control": optionalField(
    fc.constantFrom("no-cache", "max-stale", "only-if-cached", "max-age=0"),
  ),
});

function defined(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
}

/** The directives that govern this cache: a valid CDN-Cache-Control wins (RFC 9213). */
function governing(headers: Record<string, string>) {
  return (
    parseTargetedCacheControl(headers["cdn-cache-control"]) ??
    parseCacheControl(headers["cache-control"])
  );
}

describe("policy invariants (property)", () => {
  it("never stores what a shared cache must not, and never keeps per-connection fields", () => {
    fc.assert(
      fc.property(status, responseHeaders, requestHeaders, (code, rawRes, rawReq) => {
        const resHeaders: Record<string, string> = { date: HTTP_T0, ...defined(rawRes) };
        const reqHeaders = defined(rawReq);
        const plan = planStorage({
          request: request("GET", reqHeaders),
          response: response(code, resHeaders),
          requestTime: T0,
          responseTime: T0,
          options: options(),
        });
        if (!plan.store) return;
        const cc = governing(resHeaders);
        expect(resHeaders["set-cookie"]).toBeUndefined();
        expect(resHeaders.vary).not.toBe("*");
        expect(cc.private && cc.privateFields === undefined).toBe(false);
        expect(cc.noStore && !cc.mustUnderstand).toBe(false);
        expect([206, 304]).not.toContain(code);
        if (reqHeaders.authorization)
          expect(cc.public || cc.mustRevalidate || cc.sMaxAge !== undefined).toBe(true);
        for (const [name] of plan.meta.headers) {
          expect(isHopByHop(name)).toBe(false);
          expect(["age", "set-cookie"]).not.toContain(name);
          if (resHeaders.connection !== undefined) expect(name).not.toBe("x-hop");
          if (cc.privateFields?.includes("x-user") || cc.noCacheFields?.includes("x-user")) {
            expect(name).not.toBe("x-user");
          }
        }
        const m = plan.meta;
        expect(m.staleWhileRevalidateUntil).toBeGreaterThanOrEqual(m.freshUntil);
        expect(m.staleIfErrorUntil).toBeGreaterThanOrEqual(m.freshUntil);
        expect(m.deleteAt).toBeGreaterThan(T0);
        if (cc.mustRevalidate || cc.proxyRevalidate || (cc.noCache && !cc.noCacheFields)) {
          expect(m.staleWhileRevalidateUntil).toBe(m.freshUntil);
          expect(m.staleIfErrorUntil).toBe(m.freshUntil);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("never serves a stored response beyond what its lifetimes and the request allow", () => {
    fc.assert(
      fc.property(
        responseHeaders,
        requestHeaders,
        requestHeaders,
        fc.integer({ min: 0, max: 2000 }),
        (rawRes, storedReq, rawReq, seconds) => {
          const plan = planStorage({
            request: request("GET", defined(storedReq)),
            response: response(200, { date: HTTP_T0, ...defined(rawRes) }),
            requestTime: T0,
            responseTime: T0,
            options: options(),
          });
          if (!plan.store) return;
          const m = plan.meta;
          const now = T0 + seconds * SECOND;
          const req = defined(rawReq);
          const d = decide(request("GET", req), m, now, options());
          const served =
            d.kind === "fresh" || d.kind === "stale-allowed" || d.kind === "stale-while-revalidate";
          if (!served) return;
          // Another user's variant is never served (§4.1).
          if (m.vary !== null) {
            m.vary.fields.forEach((f, i) => {
              expect(req[f] ?? null).toBe(m.vary?.raw[i] ?? null);
            });
          }
          if (req.authorization) expect(m.shareableWithAuthorization).toBe(true);
          if (d.kind === "fresh") expect(now).toBeLessThan(m.freshUntil);
          if (d.kind === "stale-while-revalidate")
            expect(now).toBeLessThan(m.staleWhileRevalidateUntil);
          if (d.kind === "stale-allowed") expect(m.staleForbidden).toBe(false);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
