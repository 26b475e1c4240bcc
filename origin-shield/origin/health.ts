/**
 * Active health checks (`origins[].health`): a GET of one path on each server of a pool
 * every `intervalMs`, jittered, on a connection of its own. `unhealthyAfter` failed
 * checks in a row take a server out (unless none would be left passing: then the checks
 * are ignored, balance.ts); `healthyAfter` passed ones bring it back, and end any
 * ejection by the breaker at once, so the next real request probes it (breaker.ts)
 * instead of waiting out the backoff.
 *
 * Checks find a dead server while no traffic does (a quiet origin, a server the breaker
 * already ejected) and see it come back; the breaker reacts between checks. A check goes
 * on a connection opened for it and closed after it (`reset`), outside the origin
 * client's connection slots: it tests that the server accepts connections, and a server
 * busy with requests does not fail its checks for want of a slot here.
 */
import { type Dispatcher, request } from "undici";
import { originTarget } from "../../core/routing/index.ts";
import type { PoolServer } from "./balance.ts";

export interface HealthSettings {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyAfter: number;
  readonly healthyAfter: number;
}

/** One check of a URL: true when it passed. Never throws. */
export type Probe = (url: string, timeoutMs: number) => Promise<boolean>;

/** A GET through `dispatcher`: any 2xx or 3xx within the time passes. */
export function httpProbe(dispatcher: Dispatcher, userAgent: string): Probe {
  return async (url, timeoutMs) => {
    try {
      const res = await request(url, {
        dispatcher,
        method: "GET",
        headers: { "user-agent": userAgent },
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        reset: true,
      });
      // Read (up to undici's small limit) and dropped: only the status matters.
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 400;
    } catch {
      return false;
    }
  };
}

export interface HealthDeps {
  readonly probe: Probe;
  /** Monotonic ms, the pool's clock. */
  readonly clock: () => number;
  readonly random: () => number;
  /** A server went out of the pool or came back. */
  readonly changed?: ((server: PoolServer, healthy: boolean) => void) | undefined;
}

export class ActiveHealth {
  readonly #servers: readonly PoolServer[];
  readonly #settings: HealthSettings;
  readonly #deps: HealthDeps;
  readonly #timers = new Map<PoolServer, NodeJS.Timeout>();
  #closed = false;

  constructor(servers: readonly PoolServer[], settings: HealthSettings, deps: HealthDeps) {
    this.#servers = servers;
    this.#settings = settings;
    this.#deps = deps;
  }

  /** Schedule each server's first check at a random point of the first interval. */
  start(): void {
    for (const server of this.#servers) {
      server.checked = true;
      this.#schedule(server, this.#deps.random() * this.#settings.intervalMs);
    }
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Count one check's result against `server`. */
  record(server: PoolServer, passed: boolean): void {
    const { unhealthyAfter, healthyAfter } = this.#settings;
    if (passed) {
      server.checksPassed++;
      server.passes++;
      server.fails = 0;
      if (!server.healthy && server.passes >= healthyAfter) {
        server.healthy = true;
        server.breaker.hurry(this.#deps.clock());
        this.#deps.changed?.(server, true);
      }
    } else {
      server.checksFailed++;
      server.fails++;
      server.passes = 0;
      if (server.healthy && server.fails >= unhealthyAfter) {
        server.healthy = false;
        this.#deps.changed?.(server, false);
      }
    }
  }

  #schedule(server: PoolServer, delayMs: number): void {
    const timer = setTimeout(() => void this.#check(server), delayMs);
    // Checks never keep the process alive on their own.
    timer.unref();
    this.#timers.set(server, timer);
  }

  async #check(server: PoolServer): Promise<void> {
    const { path, intervalMs, timeoutMs } = this.#settings;
    const query = path.indexOf("?");
    const url =
      query === -1
        ? originTarget(server.url, path, "")
        : originTarget(server.url, path.slice(0, query), path.slice(query + 1));
    const passed = await this.#deps.probe(url, timeoutMs);
    if (this.#closed) return;
    this.record(server, passed);
    // ±10 %: shields started together drift apart instead of checking in step.
    this.#schedule(server, intervalMs * (0.9 + 0.2 * this.#deps.random()));
  }
}
