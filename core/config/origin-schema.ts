/**
 * One origin: where requests for some hosts and paths are fetched from. Either a single
 * base `url` or a pool of `servers` sharing the load, each watched by a circuit breaker
 * (passive health) and, when `health` is given, by active checks. The parsed origin always
 * carries both: `servers` (a single `url` is a pool of one) and `url` (the first server),
 * so code that fetches one place (the edge without shields) keeps working unchanged.
 *
 * Every server of an origin must share its scheme and base path: they serve the same
 * resources, so the URL fetched for a request may differ only in the authority. Host is
 * each server's own authority (the request a server gets is the one it would get as the
 * origin's only `url`, and TLS names are checked against it); X-Forwarded-Host is the
 * client's, whichever server answers.
 */

import { hostPattern, originUrl } from "./fields.ts";
import { type RefinementCtx, z } from "./zod.ts";

const millis = z
  .number()
  .int("must be a whole number of milliseconds")
  .positive("must be positive")
  .max(3_600_000, "must be ≤ 3600000 (one hour)");

const count = z
  .number()
  .int("must be a whole number")
  .min(1, "must be ≥ 1")
  .max(1_000, "must be ≤ 1000");

const WeightedServer = z.strictObject({
  url: originUrl.describe("Base URL of this server, as origins[].url."),
  weight: count
    .default(1)
    .describe(
      "This server's share of requests relative to the others' weights (least outstanding requests per unit of weight). Default 1.",
    ),
});

const ServerEntry = z.union([originUrl, WeightedServer], {
  error: 'must be a base URL or { "url": …, "weight": … }',
});

const HealthSchema = z
  .strictObject({
    path: z
      .string()
      .startsWith("/", 'must start with "/"')
      .refine((p) => !/[\s#]/.test(p), "must not contain whitespace or a fragment")
      .describe(
        'Path (and optional query) requested with GET on each server, appended to its base URL as a request\'s path is. A 2xx or 3xx answer within timeoutMs passes. Example: "/healthz".',
      ),
    intervalMs: millis
      .default(5_000)
      .describe(
        "Time between two checks of one server, ms; each wait is jittered by ±10 % (and the first is random within one interval) so that many shields do not check in step. Default 5000.",
      ),
    timeoutMs: millis
      .default(2_000)
      .describe("Time a check may take, connect included, ms. Default 2000."),
    unhealthyAfter: count
      .default(3)
      .describe(
        "Consecutive failed checks that take a server out of the pool. When every server fails its checks they are ignored and the breakers alone decide, so a broken health endpoint cannot take a working origin down. Default 3.",
      ),
    healthyAfter: count
      .default(2)
      .describe(
        "Consecutive passed checks that bring it back; a server its breaker ejected is then probed by the next real request rather than after its backoff. Default 2.",
      ),
  })
  .superRefine((h, ctx) => {
    if (h.timeoutMs > h.intervalMs) {
      ctx.addIssue({ code: "custom", path: ["timeoutMs"], message: "must be ≤ intervalMs" });
    }
  })
  .describe("Active health checks against each server. Absent: no active checks.");

const BreakerSchema = z
  .strictObject({
    failures: z
      .number()
      .int("must be a whole number")
      .min(0, "must be ≥ 0")
      .max(1_000_000, "must be ≤ 1000000")
      .default(5)
      .describe(
        "Consecutive failures (a connection refused or reset before the response, a connect or header timeout; never an answer, whatever its status) that eject a server; 0 never ejects. Default 5.",
      ),
    ejectMs: millis
      .default(2_000)
      .describe(
        "How long the first ejection lasts, ms; each ejection soon after another lasts twice the one before, up to maxEjectMs. When it ends one real request is let through (half-open): an answer brings the server back, a failure ejects it again. Default 2000.",
      ),
    maxEjectMs: millis
      .default(60_000)
      .describe(
        "Longest ejection, ms; after this long without one, the next starts again from ejectMs. Default 60000.",
      ),
  })
  .superRefine((b, ctx) => {
    if (b.ejectMs > b.maxEjectMs) {
      ctx.addIssue({ code: "custom", path: ["ejectMs"], message: "must be ≤ maxEjectMs" });
    }
  })
  .describe("Passive health: the circuit breaker every server of the origin has.");

export const OriginSchema = z
  .strictObject({
    name: z.string().min(1, "must not be empty").describe("Unique name, used in logs and metrics."),
    url: originUrl
      .optional()
      .describe(
        "Base URL the shield fetches: http or https, no query, fragment or credentials. With hosts, the only places the shield may ever fetch. Give either url or servers.",
      ),
    servers: z
      .array(ServerEntry)
      .min(1, "must list at least one server")
      .optional()
      .describe(
        'A pool of servers instead of url: base URLs, or { "url", "weight" }, all with the same scheme and path. The shield balances them by least outstanding requests per weight, ejects failing ones and retries a GET or HEAD that could not connect once on another. The edge, when it fetches origins itself (no shields), uses the first.',
      ),
    hosts: z
      .array(hostPattern)
      .min(1, "must list at least one host")
      .describe(
        'Request hostnames served by this origin, lowercased; "*.example.com" matches any subdomain (not example.com itself); "*" alone matches any host no other origin names.',
      ),
    pathPrefix: z
      .string()
      .startsWith("/", 'must start with "/"')
      .default("/")
      .describe('Only paths under this prefix go to this origin. Default "/".'),
    health: HealthSchema.optional(),
    breaker: BreakerSchema.prefault({}),
  })
  .superRefine(checkServers)
  .transform((origin) => {
    const { url, servers: given, ...rest } = origin;
    const servers = (given ?? [url ?? ""]).map((s) =>
      typeof s === "string" ? { url: s, weight: 1 } : s,
    );
    return { ...rest, url: servers[0]?.url ?? "", servers };
  })
  .describe("An origin server, or a pool of them.");

type ParsedOrigin = {
  readonly url?: string | undefined;
  readonly servers?: readonly (string | { readonly url: string })[] | undefined;
};

/** Exactly one of url and servers; servers that differ only in their authority. */
function checkServers(origin: ParsedOrigin, ctx: RefinementCtx<ParsedOrigin>): void {
  if (origin.url !== undefined && origin.servers !== undefined) {
    ctx.addIssue({ code: "custom", path: ["servers"], message: "give either url or servers" });
    return;
  }
  if (origin.url === undefined && origin.servers === undefined) {
    ctx.addIssue({ code: "custom", path: ["url"], message: "url or servers is required" });
    return;
  }
  const seen = new Map<string, number>();
  let first: URL | undefined;
  (origin.servers ?? []).forEach((server, i) => {
    const path = typeof server === "string" ? [i] : [i, "url"];
    const at = parsedUrl(typeof server === "string" ? server : server.url);
    if (at === null) return; // reported by the URL's own check
    const base = basePath(at);
    first ??= at;
    if (at.protocol !== first.protocol) {
      const message = `must use ${first.protocol.slice(0, -1)} like servers[0]: a pool is all plain or all TLS`;
      ctx.addIssue({ code: "custom", path: ["servers", ...path], message });
    } else if (base !== basePath(first)) {
      const message = `must have the path "${basePath(first)}" of servers[0]: every server serves the same resources`;
      ctx.addIssue({ code: "custom", path: ["servers", ...path], message });
    }
    const id = `${at.origin}${base}`;
    const twin = seen.get(id);
    if (twin !== undefined) {
      const message = `same server as servers[${twin}]; give it a larger weight instead`;
      ctx.addIssue({ code: "custom", path: ["servers", ...path], message });
    } else seen.set(id, i);
  });
}

function parsedUrl(text: string): URL | null {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

/** The path a server's URLs start with ("/" and "" alike: originTarget trims one "/"). */
function basePath(url: URL): string {
  return url.pathname.endsWith("/") ? url.pathname.slice(0, -1) : url.pathname;
}
