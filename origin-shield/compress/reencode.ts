/**
 * The background re-encodes of stored copies at brotliStoredLevel: brotli at 11 costs
 * about a hundred times what level 4 does, so they run a few at a time (half the cores,
 * at least one), behind a queue bounded in jobs and in the bytes they hold. A job that
 * finds the queue full is dropped: the fast copy stays stored and is served as it is.
 */
import { availableParallelism } from "node:os";

export interface ReencodeJob {
  /** Bytes the job holds while it waits (the uncompressed body). */
  readonly bytes: number;
  run(): Promise<void>;
}

export interface ReencodeQueueOptions {
  readonly concurrency?: number;
  readonly maxJobs?: number;
  readonly maxBytes?: number;
  /** A job failed inside the shield (never expected: it is logged). */
  readonly failed: (err: unknown) => void;
}

export class ReencodeQueue {
  readonly #concurrency: number;
  readonly #maxJobs: number;
  readonly #maxBytes: number;
  readonly #failed: (err: unknown) => void;
  readonly #waiting: ReencodeJob[] = [];
  #waitingBytes = 0;
  #running = 0;
  readonly #idle = new Set<() => void>();

  constructor(options: ReencodeQueueOptions) {
    this.#concurrency = options.concurrency ?? Math.max(1, Math.floor(availableParallelism() / 2));
    this.#maxJobs = options.maxJobs ?? 64;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#failed = options.failed;
  }

  /** Jobs running and waiting. */
  get size(): number {
    return this.#running + this.#waiting.length;
  }

  /** Take a job, or refuse it (false) when the queue is full. */
  offer(job: ReencodeJob): boolean {
    if (this.#running < this.#concurrency) {
      this.#start(job);
      return true;
    }
    if (this.#waiting.length >= this.#maxJobs || this.#waitingBytes + job.bytes > this.#maxBytes) {
      return false;
    }
    this.#waiting.push(job);
    this.#waitingBytes += job.bytes;
    return true;
  }

  /** Resolves when no job runs or waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  #start(job: ReencodeJob): void {
    this.#running++;
    job
      .run()
      .catch((err: unknown) => this.#failed(err))
      .finally(() => {
        this.#running--;
        const next = this.#waiting.shift();
        if (next !== undefined) {
          this.#waitingBytes -= next.bytes;
          this.#start(next);
        } else if (this.#running === 0) {
          for (const resolve of this.#idle) resolve();
          this.#idle.clear();
        }
      });
  }
}
