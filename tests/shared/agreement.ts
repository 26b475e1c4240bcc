/**
 * Cases that run unchanged in Node (the shield's runtime) and in workerd (the edge's):
 * both must produce exactly these keys, names, decisions and header values, or the two
 * tiers would disagree about what a response is and when it may be served.
 */
import { parseConfig } from "../../core/config/index.ts";
import { parseTargetedCacheControl } from "../../core/http/cache-control.ts";
import { appendCacheStatus, parseCacheStatus } from "../../core/http/cache-status.ts";
import { formatHttpDate, parseHttpDate } from "../../core/http/dates.ts";
import { buildCacheKey, normaliseUrl, storageName } from "../../core/key/index.ts";
import { decide, planStorage, policyOptions } from "../../core/policy/index.ts";
import { negotiateFormat, variantId } from "../../core/variant/index.ts";

const T0 = Date.UTC(2026, 0, 1);
const config = parseConfig({
  origins: [{ name: "shop", url: "http://127.0.0.1:9000", hosts: ["shop.example"] }],
  key: { headers: ["x-device"], cookies: ["currency"] },
});
const options = policyOptions(config);

const CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const SAFARI_15_ACCEPT = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5";

function keyOf(url: string, headers: Record<string, string> = {}, variant?: string): string {
  return buildCacheKey(
    { url: normaliseUrl(url, config.key), headers: new Headers(headers) },
    config.key,
    variant,
  );
}

function decisionAt(seconds: number, cacheControl: string): unknown {
  const plan = planStorage({
    request: { method: "GET", headers: new Headers() },
    response: {
      status: 200,
      headers: new Headers({
        date: formatHttpDate(T0),
        "cache-control": cacheControl,
        etag: '"v1"',
      }),
    },
    requestTime: T0,
    responseTime: T0,
    options,
  });
  if (!plan.store) return plan;
  return decide({ method: "GET", headers: new Headers() }, plan.meta, T0 + seconds * 1000, options);
}

export interface AgreementCase {
  readonly name: string;
  readonly run: () => unknown;
  readonly expected: unknown;
}

export const agreementCases: readonly AgreementCase[] = [
  {
    name: "the key ignores parameter order, tracking parameters, host case and default port",
    run: () => keyOf("https://Shop.Example:443/a/./b/../c?b=2&utm_source=mail&a=1&fbclid=x"),
    expected:
      '[null,"https","shop.example","/a/c","a=1&b=2",[["x-device",null]],[["currency",null]],null]',
  },
  {
    name: "the key includes the configured header, cookie and variant",
    run: () =>
      keyOf(
        "https://shop.example/p.jpg",
        { "x-device": "mobile", cookie: "sid=1; currency=EUR" },
        "avif",
      ),
    expected:
      '[null,"https","shop.example","/p.jpg","",[["x-device","mobile"]],[["currency","EUR"]],"avif"]',
  },
  {
    name: "the storage name is the first 128 bits of SHA-256 of the key",
    run: () => storageName('[null,"https","shop.example","/é","",[],[],null]'),
    expected: "437a3505704b5b6e183e37f44417565b",
  },
  {
    name: "Chrome gets AVIF, Safari 15 WebP, curl the original",
    run: () => [
      negotiateFormat(CHROME_ACCEPT, "jpeg", config.images),
      negotiateFormat(SAFARI_15_ACCEPT, "jpeg", config.images),
      negotiateFormat("*/*", "jpeg", config.images),
      variantId({ format: "webp", width: 640, dpr: 2 }),
    ],
    expected: ["avif", "webp", "jpeg", "webp;w=640;dpr=2"],
  },
  {
    name: "fresh, then stale-while-revalidate, then revalidate with the ETag",
    run: () => [
      decisionAt(30, "max-age=60, stale-while-revalidate=30"),
      decisionAt(75, "max-age=60, stale-while-revalidate=30"),
      decisionAt(95, "max-age=60, stale-while-revalidate=30, stale-if-error=60"),
    ],
    expected: [
      { kind: "fresh", age: 30, ttl: 30 },
      { kind: "stale-while-revalidate", age: 75, ttl: -15 },
      {
        kind: "revalidate",
        reason: "stale",
        age: 95,
        ttl: -35,
        conditional: [["if-none-match", '"v1"']],
        staleIfError: true,
      },
    ],
  },
  {
    name: "Cache-Status: the edge member follows the shield's",
    run: () => {
      const value = appendCacheStatus("shield; hit; ttl=30", {
        cache: "edge",
        fwd: "uri-miss",
        stored: true,
      });
      return [value, parseCacheStatus(value)];
    },
    expected: [
      "shield; hit; ttl=30, edge; fwd=uri-miss; stored",
      [
        { cache: "shield", hit: true, ttl: 30 },
        { cache: "edge", fwd: "uri-miss", stored: true },
      ],
    ],
  },
  {
    name: "the three HTTP date formats parse to the same instant",
    run: () => [
      parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"),
      parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", T0),
      parseHttpDate("Sun Nov  6 08:49:37 1994"),
    ],
    expected: [784111777000, 784111777000, 784111777000],
  },
  {
    name: "CDN-Cache-Control parses as a Structured Field Dictionary",
    run: () => {
      const cc = parseTargetedCacheControl("max-age=600, stale-if-error=60, public");
      return cc && [cc.maxAge, cc.staleIfError, cc.public, cc.private];
    },
    expected: [600, 60, true, false],
  },
];
