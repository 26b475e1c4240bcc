/**
 * Origin pools: every request the shield sends an origin goes through here, to one of the
 * origin's servers (`origins[].servers`, or its single `url` as a pool of one), over the
 * origin client (client.ts, which holds each server's connections and their slots).
 *
 * - Choice: the fewest outstanding requests per weight (balance.ts).
 * - Passive health: each server's circuit breaker (breaker.ts) counts failures before
 *   any answer (refused, reset, timed out); active checks when configured (health.ts).
 * - Retry: a GET or HEAD without a body whose connection failed before any byte of an
 *   answer (refused, unreachable, cut, or a connect timeout) is sent once more, to
 *   another server, within the origin's retry budget (retry-budget.ts). GET and HEAD are
 *   idempotent (RFC 9110 §9.2.2), and nothing of an answer had arrived, so the client
 *   cannot tell. No other method is ever retried, nor a header timeout (the request may
 *   be at work on the server, and a second wait would double the client's).
 * - Every server out: an OriginDown (origin-error.ts) at once, which the cache turns into
 *   stale-if-error or a 503 with Retry-After.
 */
import { Agent } from "undici";
import type { OriginConfig } from "../../core/config/index.ts";
import { originTarget } from "../../core/routing/index.ts";
import type { InterimSink } from "../types.ts";
import { type Choice, PoolServer, panicking, pickServer } from "./balance.ts";
import type { BreakerState } from "./breaker.ts";
import type { OriginClient, OriginResponse } from "./client.ts";
import { ActiveHealth, httpProbe, type Probe } from "./health.ts";
import { beforeAnswer, OriginDown, OriginError, serverFault } from "./origin-error.ts";
import { RetryBudget } from "./retry-budget.ts";

/** A request to an origin, before a server is chosen. */
export interface PoolRequest {
  readonly method: string;
  /** Flat [name, value, …] list (the request-header policy's output). */
  readonly headers: string[];
  readonly body?: AsyncIterable<Uint8Array> | null | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Takes the interim responses (102, 103) the origin sends for it (interim.ts). */
  readonly interim?: InterimSink | undefined;
}

/** The normalised path and query to fetch (a NormalisedUrl will do). */
export interface PoolTarget {
  readonly path: string;
  readonly query: string;
}

export interface ServerStats {
  readonly url: string;
  readonly weight: number;
  /** up and half-open take requests (half-open: one, its probe); the others none. */
  readonly state: "up" | "half-open" | "ejected" | "unhealthy";
  readonly breaker: BreakerState;
  readonly check: "healthy" | "unhealthy" | "off";
  readonly outstanding: number;
  readonly consecutiveFailures: number;
  /** Time left of the current ejection, ms (0 when not ejected). */
  readonly ejectedForMs: number;
  readonly ejections: number;
  readonly requests: number;
  readonly failures: number;
  readonly checksPassed: number;
  readonly checksFailed: number;
}

export interface PoolStats {
  readonly origin: string;
  /** Servers that take requests now. */
  readonly up: number;
  readonly servers: readonly ServerStats[];
  /**
   * No server passing its active checks can take requests, so the checks are ignored and
   * the breakers alone decide (balance.ts).
   */
  readonly panic: boolean;
  readonly retries: number;
  /** Retries the budget refused. */
  readonly retriesRefused: number;
  /** Requests answered at once because every server was out. */
  readonly down: number;
}

export interface PoolsOptions {
  /** shield.origin.retryBudget. */
  readonly retryBudget: number;
  /** User-Agent of health checks. */
  readonly userAgent: string;
  /** Monotonic ms (performance.now): ejections and budgets run on real time. */
  readonly clock?: (() => number) | undefined;
  readonly random?: (() => number) | undefined;
  /** Health checks' probe; by default a GET on a connection of its own. */
  readonly probe?: Probe | undefined;
  /** A server left the pool or came back (for the log). */
  readonly changed?: ((origin: string, server: string, state: string) => void) | undefined;
}

class OriginPool {
  readonly name: string;
  readonly servers: readonly PoolServer[];
  health: ActiveHealth | null = null;
  readonly #budget: RetryBudget;
  retries = 0;
  retriesRefused = 0;
  down = 0;

  constructor(origin: OriginConfig, budget: number) {
    this.name = origin.name;
    this.servers = origin.servers.map(
      (server) => new PoolServer(server.url, server.weight, origin.breaker),
    );
    this.#budget = new RetryBudget(budget);
  }

  firstAttempt(now: number): void {
    this.#budget.request(now);
  }

  retryAllowed(now: number): boolean {
    if (this.#budget.tryRetry(now)) {
      this.retries++;
      return true;
    }
    this.retriesRefused++;
    return false;
  }

  /** Every server is ejected: when the first may take requests again is Retry-After. */
  downError(now: number): OriginDown {
    this.down++;
    let waitMs = Number.POSITIVE_INFINITY;
    for (const server of this.servers) waitMs = Math.min(waitMs, server.breaker.waitMs(now));
    return new OriginDown(this.name, Math.min(3_600, Math.max(1, Math.ceil(waitMs / 1_000))));
  }
}

export class OriginPools {
  readonly #pools = new Map<string, OriginPool>();
  readonly #client: OriginClient;
  readonly #clock: () => number;
  readonly #changed: PoolsOptions["changed"];
  readonly #agent: Agent | null = null;

  constructor(origins: readonly OriginConfig[], client: OriginClient, options: PoolsOptions) {
    this.#client = client;
    const clock = options.clock ?? (() => performance.now());
    this.#clock = clock;
    let probe = options.probe;
    if (probe === undefined && origins.some((origin) => origin.health !== undefined)) {
      this.#agent = new Agent({ keepAliveTimeout: 1_000 });
      probe = httpProbe(this.#agent, options.userAgent);
    }
    const changed = options.changed;
    this.#changed = changed;
    for (const origin of origins) {
      const pool = new OriginPool(origin, options.retryBudget);
      if (origin.health !== undefined && probe !== undefined) {
        pool.health = new ActiveHealth(pool.servers, origin.health, {
          probe,
          clock,
          random: options.random ?? Math.random,
          changed: (server, healthy) =>
            changed?.(origin.name, server.url, healthy ? "healthy" : "unhealthy"),
        });
        pool.health.start();
      }
      this.#pools.set(origin.name, pool);
    }
  }

  /** Send `req` to a server of `origin` (retrying once elsewhere when that is safe). */
  async request(
    origin: OriginConfig,
    target: PoolTarget,
    req: PoolRequest,
  ): Promise<OriginResponse> {
    const pool = this.#pools.get(origin.name);
    if (pool === undefined) throw new OriginError("internal", `no pool for ${origin.name}`);
    const now = this.#clock();
    pool.firstAttempt(now);
    const retryable =
      (req.method === "GET" || req.method === "HEAD") &&
      (req.body === null || req.body === undefined);
    const first = pickServer(pool.servers, now, null, retryable ? "prefer" : "fallback");
    if (first === null) throw pool.downError(now);
    try {
      return await this.#send(pool, first, target, req);
    } catch (err) {
      if (!retryable || req.signal?.aborted === true || !beforeAnswer(err)) throw err;
      const later = this.#clock();
      const second = pickServer(pool.servers, later, first.server, "never");
      if (second === null || !pool.retryAllowed(later)) throw err;
      return await this.#send(pool, second, target, req);
    }
  }

  async #send(
    pool: OriginPool,
    choice: Choice,
    target: PoolTarget,
    req: PoolRequest,
  ): Promise<OriginResponse> {
    const { server, probe } = choice;
    server.outstanding++;
    server.requests++;
    let open = true;
    const settled = () => {
      if (open) {
        open = false;
        server.outstanding--;
      }
    };
    let res: OriginResponse;
    try {
      res = await this.#client.request({
        url: originTarget(server.url, target.path, target.query),
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        interim: req.interim,
        settled,
      });
    } catch (err) {
      settled();
      if (serverFault(err)) {
        server.failures++;
        if (server.breaker.failed(this.#clock(), probe)) {
          this.#changed?.(pool.name, server.url, "ejected");
        }
      } else if (err instanceof OriginError && err.kind === "invalid") {
        // It answered, with a field we cannot relay: alive all the same.
        this.#answered(pool, server, probe);
      } else if (probe) server.breaker.probeAbandoned();
      throw err;
    }
    this.#answered(pool, server, probe);
    return res;
  }

  #answered(pool: OriginPool, server: PoolServer, probe: boolean): void {
    server.breaker.succeeded(this.#clock(), probe);
    if (probe) this.#changed?.(pool.name, server.url, "up");
  }

  /** Each origin's servers as health and metrics show them. */
  stats(): PoolStats[] {
    const now = this.#clock();
    return [...this.#pools.values()].map((pool) => {
      const servers = pool.servers.map((server) => serverStats(server, now));
      return {
        origin: pool.name,
        up: servers.filter((s) => s.state === "up" || s.state === "half-open").length,
        servers,
        panic: pool.health !== null && panicking(pool.servers, now),
        retries: pool.retries,
        retriesRefused: pool.retriesRefused,
        down: pool.down,
      };
    });
  }

  async close(): Promise<void> {
    for (const pool of this.#pools.values()) pool.health?.close();
    await this.#agent?.destroy();
  }
}

function serverStats(server: PoolServer, now: number): ServerStats {
  const breaker = server.breaker.state(now);
  const state = !server.healthy
    ? "unhealthy"
    : breaker === "open"
      ? "ejected"
      : breaker === "half-open"
        ? "half-open"
        : "up";
  return {
    url: server.url,
    weight: server.weight,
    state,
    breaker,
    check: server.checked ? (server.healthy ? "healthy" : "unhealthy") : "off",
    outstanding: server.outstanding,
    consecutiveFailures: server.breaker.consecutiveFailures,
    ejectedForMs: breaker === "open" ? Math.ceil(server.breaker.waitMs(now)) : 0,
    ejections: server.breaker.ejections,
    requests: server.requests,
    failures: server.failures,
    checksPassed: server.checksPassed,
    checksFailed: server.checksFailed,
  };
}
