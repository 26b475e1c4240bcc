/**
 * How many retries an origin's pool may make: a fraction of its requests over a sliding
 * window, plus a small allowance per window so that a quiet origin's failures are retried
 * too (Finagle's RetryBudget, Envoy's retry budgets). When most requests fail, retrying
 * each would double the load on servers that are already struggling; the budget keeps
 * the extra load to about `ratio` of it, however bad things get.
 *
 * The window is kept as one-second buckets in a ring: constant memory and time per call.
 */

/** Length of the window, in one-second buckets. */
const BUCKETS = 10;
const BUCKET_MS = 1_000;
/**
 * Retries allowed per window whatever the traffic (when retries are on at all): one a
 * second, more than a breaker's default 5 failures, so that at any traffic a dead server
 * is ejected before its failures reach clients; from 100 requests per window up, the
 * ratio is the larger part.
 */
export const RETRY_FLOOR = 10;

export class RetryBudget {
  readonly #ratio: number;
  readonly #second = new Float64Array(BUCKETS).fill(-1);
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);

  /** `ratio`: retries per request allowed over the window; 0 allows none. */
  constructor(ratio: number) {
    this.#ratio = ratio;
  }

  /** A first attempt was made (monotonic ms). */
  request(now: number): void {
    const index = this.#bucket(now);
    this.#requests[index] = (this.#requests[index] as number) + 1;
  }

  /** Take one retry from the budget if it allows one. */
  tryRetry(now: number): boolean {
    if (this.#ratio === 0) return false;
    const current = this.#bucket(now);
    const second = Math.floor(now / BUCKET_MS);
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (second - (this.#second[i] as number) >= BUCKETS) continue;
      requests += this.#requests[i] as number;
      retries += this.#retries[i] as number;
    }
    if (retries + 1 > RETRY_FLOOR + this.#ratio * requests) return false;
    this.#retries[current] = (this.#retries[current] as number) + 1;
    return true;
  }

  /** The bucket for `now`, emptied first when it last held an older second. */
  #bucket(now: number): number {
    const second = Math.floor(now / BUCKET_MS);
    const index = second % BUCKETS;
    if (this.#second[index] !== second) {
      this.#second[index] = second;
      this.#requests[index] = 0;
      this.#retries[index] = 0;
    }
    return index;
  }
}
