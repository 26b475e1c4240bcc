/**
 * Prometheus metrics (prom-client), one registry per shield so that several shields in
 * one process (tests) never mix their counts. The two counters every request touches
 * (requests by outcome, bytes served) add to plain numbers that a scrape flushes into
 * prom-client, which keeps label hashing and validation off the hit path.
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

/** One tier's state as a scrape reads it. */
export interface TierStats {
  readonly tier: string;
  readonly bytes: number;
  readonly entries: number;
  /** 1 when usable, 0 when down. */
  readonly up: number;
  /** Failures so far (disk write errors and damaged files; Redis errors and timeouts). */
  readonly errors: number;
}

export interface TableStats {
  readonly table: string;
  readonly bytes: number;
  readonly maxBytes: number;
}

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
  /** Counts since the last scrape: the hit path adds to plain numbers, a scrape flushes. */
  readonly #pending = new Map<Outcome, number>(OUTCOMES.map((o) => [o, 0]));
  #pendingBytes = 0;
  readonly originRequests: Counter<"origin" | "kind">;
  readonly originErrors: Counter<"kind">;
  readonly collapsed: Counter;

  readonly evictions: Counter<"tier">;
  readonly originLatency: Histogram<"origin">;
  readonly imageTransforms: Counter<"result">;
  readonly imageSeconds: Histogram<"format">;
  /** Set once the image queue exists: transforms running and waiting. */
  imageQueue: () => { running: number; queued: number } = () => ({ running: 0, queued: 0 });
  /** Set once the context exists: the tables keyed by request input, and their bounds. */
  tables: () => readonly TableStats[] = () => [];
  /** Fills that failed inside the shield (a bug, never an origin's doing); each is logged. */
  readonly internalErrors: Counter;

  /** Reads from a lower tier (disk, redis), by tier and result (hit, miss). */
  readonly tierReads: Counter<"tier" | "result">;
  readonly tierReadSeconds: Histogram<"tier">;
  readonly tierHitBytes: Counter<"tier">;
  /** Waits on another node's fetch of a key, by how they ended. */
  readonly leaseWaits: Counter<"result">;
  /** Purge messages between nodes: sent, received, rejected (did not parse). */
  readonly purgeMessages: Counter<"direction">;
  /** Purges sent to Cloudflare for the edge, by result (ok, error). */
  readonly cloudflarePurges: Counter<"result">;
  /** Requests refused with 429 by shield.rateLimits, by rule name. */
  readonly rateLimited: Counter<"rule">;

  constructor(tierStats: () => readonly TierStats[]) {
    const registers = [this.registry];
    const pending = this.#pending;
    new Counter({
      name: "shield_requests_total",
      help: "Requests answered, by outcome.",
      labelNames: ["outcome"],
      registers,
      collect() {
        for (const [outcome, n] of pending) {
          this.inc({ outcome }, n);
          pending.set(outcome, 0);
        }
      },
    });
    this.originRequests = new Counter({
      name: "shield_origin_requests_total",
      help: "Requests sent to origins, by origin and kind (fill, revalidate, pass).",
      labelNames: ["origin", "kind"],
      registers,
    });
    this.originErrors = new Counter({
      name: "shield_origin_errors_total",
      help: "Origin requests that failed, by kind (timeout, connect, reset, too-large, aborted, busy, invalid).",
      labelNames: ["kind"],
      registers,
    });
    this.collapsed = new Counter({
      name: "shield_collapsed_followers_total",
      help: "Requests that waited on another request's origin fetch instead of making their own.",
      registers,
    });
    const self = this;
    new Counter({
      name: "shield_bytes_served_total",
      help: "Body bytes sent to clients.",
      registers,
      collect() {
        this.inc(self.#pendingBytes);
        self.#pendingBytes = 0;
      },
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
    this.imageTransforms = new Counter({
      name: "shield_image_transforms_total",
      help: "Image variants made, by result: ok, not_modified (revalidated without a transform), the error code, or for a plain path's conversion kept_original (the encode was not smaller) and passed_through (not a JPEG, PNG or GIF).",
      labelNames: ["result"],
      registers,
    });
    this.imageSeconds = new Histogram({
      name: "shield_image_transform_seconds",
      help: "Time to transform one image (decode, resize, encode), by output format.",
      labelNames: ["format"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: "shield_image_queue",
      help: "Image transforms running and waiting for a slot.",
      labelNames: ["state"],
      registers,
      collect() {
        const q = self.imageQueue();
        this.set({ state: "running" }, q.running);
        this.set({ state: "waiting" }, q.queued);
      },
    });
    this.internalErrors = new Counter({
      name: "shield_internal_errors_total",
      help: "Fills and promises that failed inside the shield; each failed only its own request and is logged.",
      registers,
    });
    new Gauge({
      name: "shield_table_bytes",
      help: "Bytes held by a table keyed by request input (hit_for_miss, image_variants, image_urls).",
      labelNames: ["table"],
      registers,
      collect() {
        for (const t of self.tables()) this.set({ table: t.table }, t.bytes);
      },
    });
    new Gauge({
      name: "shield_table_max_bytes",
      help: "The configured bound of each table keyed by request input (shield.tables).",
      labelNames: ["table"],
      registers,
      collect() {
        for (const t of self.tables()) this.set({ table: t.table }, t.maxBytes);
      },
    });
    new Gauge({
      name: "shield_tier_bytes",
      help: "Bytes a tier holds (bodies, headers and bookkeeping; Redis: what this node's writes account).",
      labelNames: ["tier"],
      registers,
      collect() {
        for (const t of tierStats()) this.set({ tier: t.tier }, t.bytes);
      },
    });
    new Gauge({
      name: "shield_tier_entries",
      help: "Entries a tier holds.",
      labelNames: ["tier"],
      registers,
      collect() {
        for (const t of tierStats()) this.set({ tier: t.tier }, t.entries);
      },
    });
    new Gauge({
      name: "shield_tier_up",
      help: "1 while a tier is usable, 0 while it is down (a full or failing disk, an unreachable Redis).",
      labelNames: ["tier"],
      registers,
      collect() {
        for (const t of tierStats()) this.set({ tier: t.tier }, t.up);
      },
    });
    const reported = new Map<string, number>();
    new Counter({
      name: "shield_tier_errors_total",
      help: "Failures of a tier: disk write errors and damaged files, Redis errors and timeouts.",
      labelNames: ["tier"],
      registers,
      collect() {
        for (const t of tierStats()) {
          const before = reported.get(t.tier) ?? 0;
          if (t.errors > before) this.inc({ tier: t.tier }, t.errors - before);
          reported.set(t.tier, Math.max(before, t.errors));
        }
      },
    });
    this.tierReads = new Counter({
      name: "shield_tier_reads_total",
      help: "Lookups that reached a tier below memory, by tier and result (hit, miss).",
      labelNames: ["tier", "result"],
      registers,
    });
    this.tierReadSeconds = new Histogram({
      name: "shield_tier_read_seconds",
      help: "Time of a lookup in a tier below memory.",
      labelNames: ["tier"],
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    this.tierHitBytes = new Counter({
      name: "shield_tier_hit_bytes_total",
      help: "Body bytes of hits found in a tier below memory.",
      labelNames: ["tier"],
      registers,
    });
    this.leaseWaits = new Counter({
      name: "shield_lease_waits_total",
      help: "Fills that waited on another node's fetch of the same key, by how the wait ended: peer (served what it stored), fetch (nothing usable stored: fetched here), expired (its holder died), timeout, unavailable (Redis down).",
      labelNames: ["result"],
      registers,
    });
    this.purgeMessages = new Counter({
      name: "shield_purge_messages_total",
      help: "Purge messages between nodes: sent, received, rejected (did not parse).",
      labelNames: ["direction"],
      registers,
    });
    this.cloudflarePurges = new Counter({
      name: "shield_cloudflare_purges_total",
      help: "Purges sent to Cloudflare's API for the edge, by result (ok, error).",
      labelNames: ["result"],
      registers,
    });
    this.rateLimited = new Counter({
      name: "shield_rate_limited_total",
      help: "Requests refused with 429 by a rate limit (shield.rateLimits), by rule.",
      labelNames: ["rule"],
      registers,
    });
  }

  request(outcome: Outcome): void {
    this.#pending.set(outcome, (this.#pending.get(outcome) ?? 0) + 1);
  }

  served(bytes: number): void {
    this.#pendingBytes += bytes;
  }
}
