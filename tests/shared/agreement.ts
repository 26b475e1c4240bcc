/**
 * Cases that run unchanged in Node (the shield's runtime) and in workerd (the edge's):
 * both must produce exactly these keys, names, decisions and header values, or the two
 * tiers would disagree about what a response is and when it may be served.
 */
import { compileConfig, parseConfig } from "../../core/config/index.ts";
import { parseTargetedCacheControl } from "../../core/http/cache-control.ts";
import {
  appendCacheStatus,
  formatCacheStatusMember,
  parseCacheStatus,
} from "../../core/http/cache-status.ts";
import { formatHttpDate, parseHttpDate } from "../../core/http/dates.ts";
import { buildCacheKey, normaliseUrl, storageName } from "../../core/key/index.ts";
import {
  applyNotModified,
  CONDITIONAL_FIELDS,
  cacheAction,
  connectionTokens,
  decide,
  planStorage,
  policyOptions,
  requestDisposition,
  staleOnError,
  withoutConditionals,
} from "../../core/policy/index.ts";
import {
  coveringPrefixTag,
  edgeEntryTags,
  prefixPurgeTag,
  urlPurgeTag,
} from "../../core/purge/index.ts";
import { rendezvousNodes, rendezvousOrder, routeOrigin } from "../../core/routing/index.ts";
import { negotiateFormat, variantId } from "../../core/variant/index.ts";
import { encodingAgreementCases } from "./agreement-encoding.ts";
import { imageAgreementCases } from "./agreement-images.ts";
import { negativeAgreementCases } from "./agreement-negative.ts";
import { updateAgreementCases } from "./agreement-update.ts";
import { variantAgreementCases } from "./agreement-variant.ts";
import { varyAgreementCases } from "./agreement-vary.ts";

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

/** The normalised URL a request for `url` is stored and purged under. */
function keyUrl(url: string): string {
  return normaliseUrl(url, config.key).url;
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

/** A response stored at T0 with `cacheControl` and an ETag; fails when it is not stored. */
function storedAt(cacheControl: string) {
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
  if (!plan.store) throw new Error(`not stored: ${plan.reason}`);
  return plan.meta;
}

/** A config with bypass cookies and rules, compiled as both tiers compile theirs. */
const compiled = compileConfig(
  parseConfig({
    origins: [
      { name: "shop", url: "http://127.0.0.1:9000", hosts: ["shop.example"] },
      { name: "api", url: "http://127.0.0.1:9001", hosts: ["shop.example"], pathPrefix: "/api" },
    ],
    bypassCookies: ["sid", "wp_logged_in_*"],
    rules: [
      { name: "admin", match: { path: "/admin/**" }, bypass: true },
      { match: { path: "/static/**" }, ttl: { set: 600 } },
    ],
  }),
);

/**
 * Shield nodes and keys with the order rendezvousOrder must give, written out (checked
 * once against an independent FNV-1a + fmix32 implementation): a change to the hash, the
 * mixing or the sort direction moves keys between nodes, and every edge must agree.
 */
const RENDEZVOUS_NODES = {
  three: ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"],
  five: [
    "http://10.0.0.1:8080",
    "http://10.0.0.2:8080",
    "http://10.0.0.3:8080",
    "http://10.0.0.4:8080",
    "http://10.0.0.5:8080",
  ],
  named: [
    "https://shield-a.internal",
    "https://shield-b.internal",
    "https://shield-c.internal",
    "https://shield-d.internal",
  ],
} as const;
const RENDEZVOUS_KEYS = [
  '[null,"https","shop.example","/","",[],[],null]',
  '[null,"https","shop.example","/products/1.jpg","",[],[],"avif"]',
  '[null,"https","shop.example","/products/2.jpg","",[],[],null]',
  '[null,"https","shop.example","/é","",[],[],null]',
  "k",
] as const;

export interface AgreementCase {
  readonly name: string;
  /** What the case computes; a promise (WebCrypto) is awaited. */
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
    name: "HTTP dates are read in any case, and nothing outside printable ASCII is folded",
    run: () => [
      parseHttpDate("sun, 06 nov 1994 08:49:37 gmt"),
      parseHttpDate("SUNDAY, 06-NOV-94 08:49:37 GMT", T0),
      parseHttpDate("sUN nOV  6 08:49:37 1994"),
      parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT\u00a0"),
    ],
    expected: [784111777000, 784111777000, 784111777000, null],
  },
  {
    name: "CDN-Cache-Control parses as a Structured Field Dictionary",
    run: () => {
      const cc = parseTargetedCacheControl("max-age=600, stale-if-error=60, public");
      return cc && [cc.maxAge, cc.staleIfError, cc.public, cc.private];
    },
    expected: [600, 60, true, false],
  },
  {
    name: "request disposition: method, then bypass cookie, then bypass rule (one detail scheme)",
    run: () =>
      (
        [
          ["POST", "/admin/x", "sid=1"],
          ["GET", "/page", "theme=dark; sid=1"],
          ["HEAD", "/page", "wp_logged_in_42=x"],
          ["GET", "/admin/users", "theme=dark"],
          ["GET", "/static/a.css", null],
          ["GET", "/page", "sidx=1"],
        ] as const
      ).map(([method, path, cookie]) => requestDisposition({ method, path, cookie }, compiled)),
    expected: [
      { kind: "pass", fwd: "method" },
      { kind: "pass", fwd: "bypass", detail: "cookie" },
      { kind: "pass", fwd: "bypass", detail: "cookie" },
      { kind: "pass", fwd: "bypass", detail: "rule" },
      { kind: "cache" },
      { kind: "cache" },
    ],
  },
  {
    name: "compiled config: the same policy options, rule matches and origin routes",
    run: () => [
      compiled.policy.targetedCacheControl,
      compiled.bypassCookies,
      routeOrigin(compiled.origins, "shop.example", "/api/v1")?.name,
      routeOrigin(compiled.origins, "shop.example", "/apix")?.name,
      routeOrigin(compiled.origins, "elsewhere.example", "/"),
    ],
    expected: [["cdn-cache-control"], ["sid", "wp_logged_in_*"], "api", "shop", null],
  },
  {
    name: "what to do with each decision, with its Cache-Status member",
    run: () => {
      const entry = storedAt("max-age=60, stale-while-revalidate=30, stale-if-error=60");
      const at = (seconds: number, headers: Record<string, string> = {}, stored = true) =>
        cacheAction(
          decide(
            { method: "GET", headers: new Headers(headers) },
            stored ? entry : undefined,
            T0 + seconds * 1000,
            options,
          ),
          "edge",
        );
      return [
        at(30),
        at(75),
        at(100),
        at(100, { authorization: "Bearer t" }),
        at(0, {}, false),
        at(0, { "cache-control": "only-if-cached" }, false),
      ];
    },
    expected: [
      {
        kind: "hit",
        age: 30,
        stale: false,
        refresh: false,
        member: { cache: "edge", hit: true, ttl: 30 },
      },
      {
        kind: "hit",
        age: 75,
        stale: true,
        refresh: true,
        member: { cache: "edge", hit: true, ttl: -15, detail: "stale-while-revalidate" },
      },
      {
        kind: "revalidate",
        fwd: "stale",
        conditional: [["if-none-match", '"v1"']],
        staleIfError: true,
      },
      { kind: "miss", fwd: "request" },
      { kind: "miss", fwd: "uri-miss" },
      { kind: "unsatisfiable" },
    ],
  },
  {
    name: "stale on upstream failure: a 5xx or no response, within stale-if-error only",
    run: () => {
      const entry = storedAt("max-age=60, stale-if-error=60");
      const at = (seconds: number, status: number | null, staleIfError = true) => {
        const stale = staleOnError({
          entry,
          staleIfError,
          status,
          now: T0 + seconds * 1000,
          cache: "shield",
        });
        return stale === null ? null : [formatCacheStatusMember(stale.member), stale.age];
      };
      return [at(90, 503), at(90, null), at(90, 404), at(90, 503, false), at(120, 503)];
    },
    expected: [
      ["shield; fwd=stale; fwd-status=503; ttl=-30; detail=stale-if-error", 90],
      ["shield; fwd=stale; ttl=-30; detail=stale-if-error", 90],
      null,
      null,
      null,
    ],
  },
  {
    name: "a 304 renews the entry it selects, whoever's cookie revalidated it",
    run: () => {
      const renew = (cacheControl: string, fields: Record<string, string>) =>
        applyNotModified({
          request: { method: "GET", headers: new Headers({ cookie: "session=alice" }) },
          entry: storedAt(cacheControl),
          notModified: new Headers(fields),
          requestTime: T0 + 100_000,
          responseTime: T0 + 100_000,
          options,
        });
      const renewed = renew("max-age=60", { etag: '"v1"', "cache-control": "max-age=300" });
      // Kept only to be revalidated: fetched with that cookie it would not be stored.
      const revalidateOnly = renew("no-cache", { etag: '"v1"' });
      return [
        renew("max-age=60", { etag: '"v2"', "cache-control": "max-age=300" }),
        renewed.selects && renewed.plan.store && renewed.plan.meta.freshUntil - T0,
        revalidateOnly.selects && revalidateOnly.plan.store,
        renew("max-age=60", { etag: '"v1"', "cache-control": "no-store" }),
      ];
    },
    expected: [
      { selects: false },
      400_000,
      true,
      { selects: true, plan: { store: false, reason: "no-store" } },
    ],
  },
  {
    name: "conditional fields and Connection tokens, parsed once for both tiers",
    run: () => [
      [...CONDITIONAL_FIELDS].sort(),
      withoutConditionals([
        ["If-None-Match", '"a"'],
        ["Range", "bytes=0-1"],
        ["if-unmodified-since", "x"],
        ["Accept", "*/*"],
      ]),
      connectionTokens(" Keep-Alive, ,X-Trace,close "),
      connectionTokens(null),
    ],
    expected: [
      ["if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since"],
      [
        ["range", "bytes=0-1"],
        ["accept", "*/*"],
      ],
      ["keep-alive", "x-trace", "close"],
      [],
    ],
  },
  {
    name: "rendezvous order over fixed nodes and keys, written out",
    run: () =>
      Object.values(RENDEZVOUS_NODES).map((nodes) => {
        const prepared = rendezvousNodes(nodes);
        return RENDEZVOUS_KEYS.map((key) => rendezvousOrder(prepared, key));
      }),
    expected: [
      [
        ["http://10.0.0.1:8080", "http://10.0.0.3:8080", "http://10.0.0.2:8080"],
        ["http://10.0.0.3:8080", "http://10.0.0.2:8080", "http://10.0.0.1:8080"],
        ["http://10.0.0.3:8080", "http://10.0.0.2:8080", "http://10.0.0.1:8080"],
        ["http://10.0.0.1:8080", "http://10.0.0.3:8080", "http://10.0.0.2:8080"],
        ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"],
      ],
      [
        [
          "http://10.0.0.4:8080",
          "http://10.0.0.5:8080",
          "http://10.0.0.1:8080",
          "http://10.0.0.3:8080",
          "http://10.0.0.2:8080",
        ],
        [
          "http://10.0.0.3:8080",
          "http://10.0.0.5:8080",
          "http://10.0.0.2:8080",
          "http://10.0.0.1:8080",
          "http://10.0.0.4:8080",
        ],
        [
          "http://10.0.0.4:8080",
          "http://10.0.0.3:8080",
          "http://10.0.0.2:8080",
          "http://10.0.0.5:8080",
          "http://10.0.0.1:8080",
        ],
        [
          "http://10.0.0.4:8080",
          "http://10.0.0.1:8080",
          "http://10.0.0.3:8080",
          "http://10.0.0.5:8080",
          "http://10.0.0.2:8080",
        ],
        [
          "http://10.0.0.1:8080",
          "http://10.0.0.2:8080",
          "http://10.0.0.4:8080",
          "http://10.0.0.5:8080",
          "http://10.0.0.3:8080",
        ],
      ],
      [
        [
          "https://shield-c.internal",
          "https://shield-b.internal",
          "https://shield-d.internal",
          "https://shield-a.internal",
        ],
        [
          "https://shield-d.internal",
          "https://shield-a.internal",
          "https://shield-b.internal",
          "https://shield-c.internal",
        ],
        [
          "https://shield-b.internal",
          "https://shield-c.internal",
          "https://shield-d.internal",
          "https://shield-a.internal",
        ],
        [
          "https://shield-a.internal",
          "https://shield-c.internal",
          "https://shield-d.internal",
          "https://shield-b.internal",
        ],
        [
          "https://shield-b.internal",
          "https://shield-c.internal",
          "https://shield-a.internal",
          "https://shield-d.internal",
        ],
      ],
    ],
  },
  {
    // The shield names these tags in its purge; the edge writes them on its entries.
    name: "purge tags: a URL's, a directory's, and an edge entry's whole list",
    run: () => [
      urlPurgeTag(keyUrl("https://Shop.Example/products/1.jpg?b=2&a=1")),
      urlPurgeTag("https://shop.example/é"),
      prefixPurgeTag("https://shop.example/products/"),
      coveringPrefixTag("https://shop.example/products/1"),
      prefixPurgeTag("https://shop.example/products"),
      edgeEntryTags("https://shop.example/a/b/c.jpg", ["Sale", "sale", "has space", "x"]),
    ],
    expected: [
      "edge-url:520ecee5c1ae175f6c161fc5c34f03e1",
      "edge-url:36e6d51898af2f880d021d7685547906",
      "edge-dir:67ad739554c328dd285b29bab36928f1",
      "edge-dir:67ad739554c328dd285b29bab36928f1",
      null,
      [
        "Sale",
        "x",
        "edge-url:55ebc78d63e6421bc66bbcd876729858",
        "edge-dir:5b7f51f342a36995bbe00ff697224bcb",
        "edge-dir:470985ef2342b6aad9549f11e12f8a98",
        "edge-dir:cbfc26167ffbc8c9955c9a19f6ea53b9",
      ],
    ],
  },
  ...variantAgreementCases,
  ...imageAgreementCases,
  ...negativeAgreementCases,
  ...encodingAgreementCases,
  ...updateAgreementCases,
  ...varyAgreementCases,
];
