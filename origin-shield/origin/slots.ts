/**
 * Connections to one origin as a counted resource with a bounded wait. A request holds a
 * slot from the moment it is sent until its response body has been read or dropped, as
 * it holds the connection itself. When every slot is taken a request waits, at most
 * `maxQueue` of them for at most `timeoutMs`; past either bound it fails at once with
 * `busy` instead of joining an unbounded queue (undici's own queue has neither bound, so
 * a few clients that stall on large bodies could leave every later miss waiting for ever).
 */

export type Release = () => void;

interface Waiter {
  readonly grant: (release: Release) => void;
  readonly refuse: (reason: "queue-full" | "timeout") => void;
}

export class Slots {
  #free: number;
  readonly #waiting: Waiter[] = [];
  readonly #maxQueue: number;
  readonly #timeoutMs: number;

  constructor(size: number, maxQueue: number, timeoutMs: number) {
    this.#free = size;
    this.#maxQueue = maxQueue;
    this.#timeoutMs = timeoutMs;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** A slot, or a rejection naming the bound that was hit. */
  acquire(): Promise<Release> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#release());
    }
    if (this.#waiting.length >= this.#maxQueue) return Promise.reject(new SlotsBusy("queue-full"));
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          clearTimeout(timer);
          resolve(release);
        },
        refuse: (reason) => reject(new SlotsBusy(reason)),
      };
      const timer = setTimeout(() => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        waiter.refuse("timeout");
      }, this.#timeoutMs);
      this.#waiting.push(waiter);
    });
  }

  /** A release that gives the slot back once, however many times it is called. */
  #release(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next !== undefined) next.grant(this.#release());
      else this.#free++;
    };
  }
}

export class SlotsBusy extends Error {
  readonly reason: "queue-full" | "timeout";
  constructor(reason: "queue-full" | "timeout") {
    super(
      reason === "timeout"
        ? "no connection to the origin became free in time"
        : "too many requests are waiting for a connection to the origin",
    );
    this.reason = reason;
  }
}
