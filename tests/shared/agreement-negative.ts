/**
 * Agreement cases for negative caching and W3C Trace Context: both tiers store a 404 or
 * 410 without freshness for the same negative TTL and say so in the same words, and read
 * a `traceparent` the same way (tests/shared/agreement.ts runs these in Node and workerd).
 */
import { parseConfig } from "../../core/config/index.ts";
import { formatCacheStatusMember } from "../../core/http/cache-status.ts";
import { formatHttpDate } from "../../core/http/dates.ts";
import { continueTrace, parseTraceparent } from "../../core/http/trace-context.ts";
import {
  cacheAction,
  decide,
  planStorage,
  policyOptions,
  storedDetail,
} from "../../core/policy/index.ts";
import type { AgreementCase } from "./agreement.ts";

const T0 = Date.UTC(2026, 0, 1);
const options = policyOptions(
  parseConfig({ origins: [{ name: "o", url: "http://127.0.0.1:9000", hosts: ["o.example"] }] }),
);

/** What each tier does with a `status` answered at T0 with `headers`, seen `after` s later. */
function negative(status: number, headers: Record<string, string>, after: number): unknown {
  const plan = planStorage({
    request: { method: "GET", headers: new Headers() },
    response: { status, headers: new Headers({ date: formatHttpDate(T0), ...headers }) },
    requestTime: T0,
    responseTime: T0,
    options,
  });
  if (!plan.store) return plan;
  const get = { method: "GET", headers: new Headers() };
  const action = cacheAction(decide(get, plan.meta, T0 + after * 1000, options), "edge", plan.meta);
  return [
    plan.meta.freshnessLifetime,
    plan.meta.lifetimeSource,
    storedDetail(plan.meta) ?? null,
    action.kind === "hit" ? formatCacheStatusMember(action.member) : action.kind,
  ];
}

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

export const negativeAgreementCases: readonly AgreementCase[] = [
  {
    name: "negative caching: a 404 or 410 without freshness, and what the origin says instead",
    run: () => [
      negative(404, {}, 10),
      negative(410, { "last-modified": formatHttpDate(T0 - 86_400_000) }, 59),
      negative(404, {}, 61),
      negative(404, { "cache-control": "no-store" }, 0),
      negative(404, { "cache-control": "max-age=0" }, 0),
      negative(404, { "cache-control": "max-age=300" }, 10),
    ],
    expected: [
      [60, "negative", "negative-ttl", "edge; hit; ttl=50; detail=negative-ttl"],
      [60, "negative", "negative-ttl", "edge; hit; ttl=1; detail=negative-ttl"],
      [60, "negative", "negative-ttl", "revalidate"],
      { store: false, reason: "no-store" },
      { store: false, reason: "stale-on-arrival" },
      [300, "max-age", null, "edge; hit; ttl=290"],
    ],
  },
  {
    name: "traceparent: what parses, and what a hop continuing it sends",
    run: () => {
      const continued = continueTrace(`00-${TRACE}-${SPAN}-09`);
      return [
        parseTraceparent(`00-${TRACE}-${SPAN}-01`),
        parseTraceparent(`02-${TRACE}-${SPAN}-01-more`),
        parseTraceparent(`00-${TRACE.toUpperCase()}-${SPAN}-01`),
        parseTraceparent(`ff-${TRACE}-${SPAN}-01`),
        parseTraceparent(`00-${TRACE}-${SPAN}-01-more`),
        [continued.traceId, continued.parentId, continued.traceparent.slice(-3)],
      ];
    },
    expected: [
      { traceId: TRACE, parentId: SPAN, flags: 1 },
      { traceId: TRACE, parentId: SPAN, flags: 1 },
      null,
      null,
      null,
      [TRACE, SPAN, "-01"],
    ],
  },
];
