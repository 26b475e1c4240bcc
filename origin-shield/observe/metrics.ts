/**
 * Prometheus metrics (prom-client), one registry per shield so that several shields in
 * one process (tests) never mix their counts. Children for fixed label values are bound
 * once: an increment on the hit path is then a field update, not a label lookup.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** What happened to a request, one label value per outcome. */
export type Outcome =
  | "hit"
  | "stale" // served stale: stale-while-revalidate or max-stale
  | "stale_error" // served stale because the origin failed (stale-if-error)
  | "miss" // fetched from the origin (the leader of a fill)
  | "collapsed" // waited on another request's fill
  | "revalidated" // stale, revalidated with the origin
  | "pass" // not cacheable: forwarded, not stored (bypass, method, uncacheable)
  | "error" // the origin failed and nothing could be served
  | "rejected" // bad request, unknown host, queue full
  | "admin";

const OUTCOMES: readonly Outcome[] = [
  "hit",
  "stale",
  "stale_error",
  "miss",
  "collapsed",
  "revalidated",
  "pass",
  "error",
  "rejected",
  "admin",
];

export class ShieldMetrics {
  readonly registry = new Registry();
  readonly #requests: Record<Outcome, Counter.Internal>;
  readonly originRequests: Counter<"origin" | "kind">;
  readonly originErrors: Counter<"kind">;
  readonly collapsed: Counter;
  readonly bytesServed: Counter;
  readonly evictions: Counter<"tier">;
  readonly originLatency: Histogram<"origin">;

  constructor(tierStats: () => { bytes: number; entries: number }) {
    const registers = [this.registry];
    const requests = new Counter({
      name: "shield_requests_total",
      help: "Requests answered, by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.#requests = Object.fromEntries(OUTCOMES.map((o) => [o, requests.labels(o)])) as Record<
      Outcome,
      Counter.Internal
    >;
    this.originRequests = new Counter({
      name: "shield_origin_requests_total",
      help: "Requests sent to origins, by origin and kind (fill, revalidate, pass).",
      labelNames: ["origin", "kind"],
      registers,
    });
    this.originErrors = new Counter({
      name: "shield_origin_errors_total",
      help: "Origin requests that failed, by kind (timeout, connect, reset, too-large).",
      labelNames: ["kind"],
      registers,
    });
    this.collapsed = new Counter({
      name: "shield_collapsed_followers_total",
      help: "Requests that waited on another request's origin fetch instead of making their own.",
      registers,
    });
    this.bytesServed = new Counter({
      name: "shield_bytes_served_total",
      help: "Body bytes sent to clients.",
      registers,
    });
    this.evictions = new Counter({
      name: "shield_tier_evictions_total",
      help: "Entries evicted to stay within a tier's byte budget.",
      labelNames: ["tier"],
      registers,
    });
    this.originLatency = new Histogram({
      name: "shield_origin_latency_seconds",
      help: "Time from sending a request to an origin until its response headers.",
      labelNames: ["origin"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: "shield_tier_bytes",
      help: "Bytes a tier holds (bodies, headers and bookkeeping).",
      labelNames: ["tier"],
      registers,
      collect() {
        this.set({ tier: "memory" }, tierStats().bytes);
      },
    });
    new Gauge({
      name: "shield_tier_entries",
      help: "Entries a tier holds.",
      labelNames: ["tier"],
      registers,
      collect() {
        this.set({ tier: "memory" }, tierStats().entries);
      },
    });
  }

  request(outcome: Outcome): void {
    this.#requests[outcome].inc();
  }
}
