/**
 * Request collapsing, in one place: the table of fills in progress by primary key, the
 * followers each may take, hit-for-miss (keys whose last response could not be shared,
 * whose requests fetch on their own at once), and revalidations running in the
 * background. Concurrent misses for one key become one fill whose bytes stream to every
 * waiter (collapse/body-buffer.ts).
 */
import type { Logger } from "pino";
import { OriginError } from "../origin/origin-error.ts";
import { type FillDeps, type FillJob, runFill } from "./fill.ts";
import { Flight } from "./flight.ts";
import type { HitForMiss } from "./hit-for-miss.ts";

export interface CollapserOptions {
  /** Followers one fill may take; more are refused (503 queue_full). */
  readonly maxWaiters: number;
  readonly log: Logger;
  /** Told of each request that joined another's fill. */
  readonly onCollapsed: () => void;
  /** Told of each fill that failed inside the shield (a bug, never an origin's doing). */
  readonly onInternalError: () => void;
}

/** A request's place in a fill: its leader, or one of its followers. */
export interface Joined {
  readonly flight: Flight;
  readonly follower: boolean;
}

export class Collapser {
  readonly #flights = new Map<string, Flight>();
  readonly #background = new Set<Promise<unknown>>();
  readonly #deps: FillDeps;
  readonly #options: CollapserOptions;

  constructor(deps: FillDeps, options: CollapserOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  get hitForMiss(): HitForMiss {
    return this.#deps.hitForMiss;
  }

  /** Fills others may still join, by primary key. */
  get flights(): ReadonlyMap<string, Flight> {
    return this.#flights;
  }

  /**
   * Join the key's fill as a follower, or start one and lead it. "full" when the fill
   * already has as many followers as it may take.
   */
  join(job: FillJob): Joined | "full" {
    const current = job.shared ? this.#flights.get(job.primary) : undefined;
    if (current?.joinable) {
      if (current.followers >= this.#options.maxWaiters) return "full";
      current.followers++;
      this.#options.onCollapsed();
      return { flight: current, follower: true };
    }
    return { flight: this.start(job), follower: false };
  }

  /** Start a fill; with `job.shared`, requests for the key join it until it closes. */
  start(job: FillJob): Flight {
    const flight = new Flight(job.primary, job.shared, (closed) => {
      if (this.#flights.get(closed.key) === closed) this.#flights.delete(closed.key);
    });
    if (job.shared) this.#flights.set(job.primary, flight);
    flight.done = runFill(this.#deps, flight, job)
      .catch((err: unknown) => {
        // Whatever throws inside a fill fails that fill alone: its waiters get an error
        // (or a stale copy), and it is logged and counted; no origin can take the
        // process down.
        this.#options.onInternalError();
        this.#options.log.error({ err, url: job.id.url }, "fill failed inside the shield");
        const error =
          err instanceof OriginError
            ? err
            : new OriginError("internal", "the shield failed to handle the response", {
                cause: err,
              });
        flight.fail(error);
      })
      .finally(() => flight.closeToFollowers());
    return flight;
  }

  /**
   * RFC 5861 §3: revalidate a stale entry in the background, once per key (not when a
   * fill for the key is already running); the client already has its answer.
   */
  revalidateInBackground(job: FillJob): void {
    if (this.#flights.has(job.primary)) return;
    const done = this.start(job).done.catch((err: unknown) =>
      this.#options.log.warn({ err }, "background revalidation failed"),
    );
    this.#background.add(done);
    void done.finally(() => this.#background.delete(done));
  }

  /** Resolves when no fill and no background revalidation is running. */
  async drain(): Promise<void> {
    for (;;) {
      const pending = [...[...this.#flights.values()].map((f) => f.done), ...this.#background];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }
}
