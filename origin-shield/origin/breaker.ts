/**
 * Passive health of one origin server: a circuit breaker fed by the outcomes of real
 * requests. Closed, it lets everything through and counts consecutive failures; at
 * `failures` in a row it opens (the server is ejected) for a backoff that doubles with
 * each ejection that follows closely on the last. When the backoff ends it is half-open:
 * exactly one real request (the probe) may go; an answer closes it, a failure opens it
 * again for longer. An ejection more than `maxEjectMs` after the breaker last closed
 * starts the backoff over, so a server that failed once last week is not punished today.
 *
 * What counts as a failure is decided by the pool (pool.ts): a connection that could not
 * be made or was cut before any answer, or an answer that did not come in time. An
 * answer is never a failure, whatever its status: a 5xx is the origin's to send and the
 * cache already serves stale on it (RFC 5861 §4); ejecting for it would take every
 * server out over one broken URL.
 *
 * Times are monotonic milliseconds from the pool's clock, never the shield's cache clock.
 */

export type BreakerState = "closed" | "open" | "half-open";

/** May a request go to this server now: yes, as the half-open probe, or no. */
export type Admission = "yes" | "probe" | "no";

export interface BreakerOptions {
  /** Consecutive failures that open the breaker; 0 never opens it. */
  readonly failures: number;
  readonly ejectMs: number;
  readonly maxEjectMs: number;
}

export class Breaker {
  readonly #options: BreakerOptions;
  #state: BreakerState = "closed";
  #consecutive = 0;
  /** Ejections in the current run of closely spaced ones (the backoff exponent). */
  #ejections = 0;
  #ejectionsTotal = 0;
  #openUntil = 0;
  #closedAt = Number.NEGATIVE_INFINITY;
  #probing = false;

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  /** The state at `now` (an ejection whose backoff has ended reads as half-open). */
  state(now: number): BreakerState {
    if (this.#state === "open" && now >= this.#openUntil) this.#state = "half-open";
    return this.#state;
  }

  admits(now: number): Admission {
    const state = this.state(now);
    if (state === "closed") return "yes";
    if (state === "half-open" && !this.#probing) return "probe";
    return "no";
  }

  /** The admitted probe is on its way: no other request may go until it settles. */
  beginProbe(): void {
    this.#probing = true;
  }

  /** The server answered. A probe's answer closes the breaker. */
  succeeded(now: number, probe: boolean): void {
    this.#consecutive = 0;
    if (probe && this.#state !== "closed") {
      this.#state = "closed";
      this.#probing = false;
      this.#closedAt = now;
    }
  }

  /** The server failed. A probe's failure ejects it again; true when this ejected it. */
  failed(now: number, probe: boolean): boolean {
    if (probe) {
      this.#probing = false;
      this.#eject(now);
      return true;
    }
    // Requests sent before an ejection may still fail after it: already counted.
    if (this.#state !== "closed") return false;
    this.#consecutive++;
    if (this.#options.failures === 0 || this.#consecutive < this.#options.failures) return false;
    this.#eject(now);
    return true;
  }

  /** The probe ended without telling anything (aborted, refused here): another may go. */
  probeAbandoned(): void {
    this.#probing = false;
  }

  /**
   * Active checks found the server back after finding it down: end the ejection now, so
   * the next request probes it rather than waiting out the backoff.
   */
  hurry(now: number): void {
    if (this.#state === "open") this.#openUntil = now;
  }

  /** Milliseconds until a request may go (0 when one may now). */
  waitMs(now: number): number {
    const state = this.state(now);
    if (state === "open") return this.#openUntil - now;
    return state === "half-open" && this.#probing ? 1_000 : 0;
  }

  get consecutiveFailures(): number {
    return this.#consecutive;
  }

  get ejections(): number {
    return this.#ejectionsTotal;
  }

  #eject(now: number): void {
    const { ejectMs, maxEjectMs } = this.#options;
    if (now - this.#closedAt > maxEjectMs && this.#state === "closed") this.#ejections = 0;
    this.#ejections++;
    this.#ejectionsTotal++;
    this.#consecutive = 0;
    this.#state = "open";
    this.#openUntil = now + Math.min(maxEjectMs, ejectMs * 2 ** Math.min(30, this.#ejections - 1));
  }
}
