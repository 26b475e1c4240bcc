/**
 * The collapsing layer with nothing around it: a real memory tier and a real Collapser,
 * a clock the test moves, and a scripted fetcher in place of an origin that counts its
 * calls and answers when the test says so. No socket, no timer, no sleep.
 */
import pino from "pino";
import { parseConfig } from "../../../core/config/index.ts";
import type { HeaderPairs } from "../../../core/policy/index.ts";
import { NO_CREDENTIALS, policyOptions } from "../../../core/policy/index.ts";
import { compileRules } from "../../../core/rules/index.ts";
import { Collapser } from "../../../origin-shield/collapse/collapser.ts";
import type { FetchedResponse, Fetcher, FillJob } from "../../../origin-shield/collapse/fill.ts";
import { HitForMiss } from "../../../origin-shield/collapse/hit-for-miss.ts";
import type { OriginError } from "../../../origin-shield/origin/origin-error.ts";
import { MemoryTier } from "../../../origin-shield/store/memory-tier.ts";
import { PurgeIndex } from "../../../origin-shield/store/purge-index.ts";

export const T0 = Date.UTC(2026, 0, 1);

/** A promise the test settles by hand. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A body the test feeds chunk by chunk, then ends. */
export class ScriptedBody implements AsyncIterable<Buffer> {
  readonly #queue: (Buffer | null)[] = [];
  #wake: (() => void) | null = null;

  push(text: string): void {
    this.#queue.push(Buffer.from(text));
    this.#wake?.();
  }

  end(): void {
    this.#queue.push(null);
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const next = this.#queue.shift();
      if (next === null) return;
      if (next !== undefined) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }
}

export function response(
  status: number,
  headers: HeaderPairs,
  body: ScriptedBody,
): FetchedResponse {
  return { status, headers, body, dispose() {} };
}

/** Yield to every pending promise callback (no timers involved). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

export interface Harness {
  readonly collapser: Collapser;
  readonly tier: MemoryTier;
  readonly index: PurgeIndex;
  readonly bodyFailures: OriginError[];
  internalErrors: number;
  collapsed: number;
  now: number;
  /** A job for `path` whose fetcher is `fetch`. */
  job(path: string, fetch: Fetcher, extra?: Partial<FillJob>): FillJob;
}

export function harness(
  options: { maxWaiters?: number; maxObjectBytes?: number; uncacheableTtl?: number } = {},
): Harness {
  const config = parseConfig({
    origins: [{ name: "o", url: "http://127.0.0.1:9", hosts: ["example.com"] }],
  });
  const index = new PurgeIndex();
  const tier = new MemoryTier({
    maxBytes: 10_000_000,
    maxObjectBytes: options.maxObjectBytes ?? 1_000_000,
    events: [index],
  });
  const h: Harness = {
    tier,
    index,
    bodyFailures: [],
    internalErrors: 0,
    collapsed: 0,
    now: T0,
    collapser: undefined as unknown as Collapser,
    job(path, fetch, extra = {}) {
      const url = `http://example.com${path}`;
      return {
        primary: `key:${url}`,
        id: { url, primary: `key:${url}` },
        request: { method: "GET", headers: new Headers() },
        credentials: NO_CREDENTIALS,
        path,
        conditional: [],
        shared: true,
        fetch,
        ...extra,
      };
    },
  };
  const collapser = new Collapser(
    {
      tier,
      policy: policyOptions(config),
      rules: compileRules(config.rules),
      hitForMiss: new HitForMiss(1_000_000),
      hitForMissMs: (options.uncacheableTtl ?? 30) * 1000,
      maxBodyBytes: 10_000_000,
      now: () => h.now,
      bodyFailed: (error) => h.bodyFailures.push(error),
    },
    {
      maxWaiters: options.maxWaiters ?? 100,
      log: pino({ level: "silent" }),
      onCollapsed: () => h.collapsed++,
      onInternalError: () => h.internalErrors++,
    },
  );
  (h as { collapser: Collapser }).collapser = collapser;
  return h;
}

/** Read a reader to its end: the text, or the error that ended it. */
export async function readAll(
  reader: AsyncIterable<Buffer>,
): Promise<{ text: string } | { error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of reader) chunks.push(c);
  } catch (error) {
    return { error };
  }
  return { text: Buffer.concat(chunks).toString() };
}
