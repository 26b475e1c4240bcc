/**
 * At most `concurrency` transforms at once; up to `maxQueue` more wait their turn, and
 * beyond that a request is refused at once (503 transform_busy) rather than left to
 * pile up memory and latency. Each transform gets `timeoutMs` from the moment it starts:
 * the caller is answered then, but the slot stays taken until libvips has really
 * stopped, so timed-out work can never push the CPU past the limit.
 */
import { ImageError } from "../core/variant/index.ts";

export class TransformQueue {
  readonly #concurrency: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limits: { concurrency: number; maxQueue: number; timeoutMs: number }) {
    this.#concurrency = Math.max(1, limits.concurrency);
    this.#maxQueue = limits.maxQueue;
    this.#timeoutMs = limits.timeoutMs;
  }

  /** Transforms running now. */
  get running(): number {
    return this.#running;
  }

  /** Transforms waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running < this.#concurrency) this.#running++;
    else {
      if (this.#waiting.length >= this.#maxQueue) {
        throw new ImageError(
          "transform_busy",
          `${this.#running} transforms are running and ${this.#waiting.length} waiting; try again shortly`,
        );
      }
      // The slot is handed over by release(); #running already counts it.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    const task = Promise.resolve().then(work);
    task.then(this.#release, this.#release);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ImageError("transform_timeout", `the transform took over ${this.#timeoutMs} ms`),
          ),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([task, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  readonly #release = (): void => {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#running--;
  };
}
