/**
 * One shield node's connections to the Redis every node shares: a command connection
 * (the Redis tier, leases, publishing) and, from the first subscription on, a subscriber
 * connection (pub/sub needs one of its own).
 *
 * Redis is an accelerator here, never a dependency of a request: every command is
 * bounded by `timeoutMs` (tens of ms: it sits on the hit path), nothing is queued while
 * the connection is down (a command fails at once instead of piling up behind a dead
 * socket), and no call rejects: each resolves to a result that says it failed. The
 * client reconnects by itself with a capped backoff and resubscribes its channels.
 *
 * A Redis that accepts commands and answers none (overloaded, paused, a host gone without
 * closing its connections) would cost every request the whole timeout: after TRIP_AFTER
 * timeouts in a row the link counts as down, commands fail at once, and a PING probes it
 * until it answers again.
 *
 * The client is node-redis (`redis`), chosen by measurement against ioredis
 * (bench/redis-clients.ts): equal fault behaviour, a timeout per command (a purge can
 * be given longer than a hit), and more throughput with many commands in flight.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import {
  ClientOfflineError,
  createClient,
  ErrorReply,
  RESP_TYPES,
  TimeoutError,
  TimeoutReadError,
} from "redis";

export type LinkState = "up" | "down";

export interface RedisLinkOptions {
  /** redis:// or rediss:// URL, credentials and database included. */
  readonly url: string;
  /** The longest any command may take before it counts as failed, ms. */
  readonly timeoutMs: number;
  readonly log?: Logger | undefined;
  /** Longest wait between two reconnection attempts, ms (default 1,000). */
  readonly maxBackoffMs?: number | undefined;
}

export interface RedisLinkHealth {
  readonly state: LinkState;
  /** The URL without its password. */
  readonly url: string;
  /** The last connection error, while down. */
  readonly error?: string | undefined;
  /** Times the command connection came back after being lost. */
  readonly reconnects: number;
  /** Commands that gave up at their timeout. */
  readonly timeouts: number;
  /** Commands that failed otherwise (an error reply, a connection lost under them). */
  readonly errors: number;
  /** The subscriber connection: "none" until something subscribes. */
  readonly subscriber: LinkState | "none";
}

export type RedisArg = string | Buffer;

/** What a command came to: its reply, or why there is none. Never a rejection. */
export type RedisResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly failure: "down" | "timeout" | "error"; readonly error: string };

export interface CommandOptions {
  /** Instead of the link's timeoutMs: for work off the hit path (a purge, a large write). */
  readonly timeoutMs?: number | undefined;
  /** Bulk strings as Buffers (bodies) instead of strings. */
  readonly buffers?: boolean | undefined;
}

/** A Lua script run by its SHA1 (EVALSHA), sent in full only when Redis lacks it. */
export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha1: createHash("sha1").update(source).digest("hex") };
}

type Client = ReturnType<typeof createClient>;

const DOWN: RedisResult = { ok: false, failure: "down", error: "redis is down" };
/** Timeouts in a row after which Redis counts as unresponsive (down) until a PING answers. */
const TRIP_AFTER = 5;
const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer };

export class RedisLink {
  readonly #options: RedisLinkOptions;
  readonly #client: Client;
  readonly #url: string;
  #subscriber: Client | null = null;
  /** Channel → its handlers. */
  readonly #handlers = new Map<string, Set<(message: string) => void>>();
  /** Channels the subscriber connection has confirmed (node-redis resubscribes these). */
  readonly #confirmed = new Set<string>();
  readonly #stateListeners = new Set<(state: LinkState) => void>();
  #state: LinkState = "down";
  #everUp = false;
  #closed = false;
  #lastError: string | undefined;
  #reconnects = 0;
  #timeouts = 0;
  #errors = 0;
  #timeoutsInARow = 0;
  #unresponsive = false;
  #probe: NodeJS.Timeout | undefined;

  constructor(options: RedisLinkOptions) {
    this.#options = options;
    this.#url = withoutPassword(options.url);
    const maxBackoff = options.maxBackoffMs ?? 1000;
    this.#client = createClient({
      url: options.url,
      // A command while disconnected fails at once (ClientOfflineError) instead of
      // waiting in a queue that grows for as long as Redis is away.
      disableOfflineQueue: true,
      socket: {
        // Generous: a slow connect costs no request (commands fail fast meanwhile).
        connectTimeout: Math.max(1000, options.timeoutMs * 4),
        // Doubling from 25 ms up to the cap, with jitter so that every node of a
        // cluster does not reconnect in the same millisecond after a Redis restart.
        reconnectStrategy: (retries: number) =>
          Math.round(
            Math.min(25 * 2 ** Math.min(retries, 10), maxBackoff) * (0.8 + 0.4 * Math.random()),
          ),
      },
    });
    this.#watch(this.#client, () => this.#refresh());
    this.#client.connect().catch((err: unknown) => this.#noteError(err));
  }

  get state(): LinkState {
    return this.#state;
  }

  /** The bound on a command unless it asks for another, ms. */
  get timeoutMs(): number {
    return this.#options.timeoutMs;
  }

  /** Called on every change of state; returns a function that stops the calls. */
  onState(listener: (state: LinkState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  health(): RedisLinkHealth {
    const subscriber = this.#subscriber;
    return {
      state: this.#state,
      url: this.#url,
      ...(this.#state === "down" ? { error: this.#closed ? "closed" : this.#lastError } : {}),
      reconnects: this.#reconnects,
      timeouts: this.#timeouts,
      errors: this.#errors,
      subscriber: subscriber === null ? "none" : subscriber.isReady ? "up" : "down",
    };
  }

  /**
   * Resolves true once the command connection is up and every subscription is confirmed,
   * false if that has not happened within `timeoutMs`. For start-up and tests: the hit
   * path never waits for Redis.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.#fullyUp()) {
      if (this.#closed || performance.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  /** One command, e.g. ["HMGET", key, "h", "b"]. */
  async command(args: readonly RedisArg[], options: CommandOptions = {}): Promise<RedisResult> {
    if (this.#closed || this.#unresponsive || !this.#client.isReady) return DOWN;
    try {
      const value = await this.#client.sendCommand(args, {
        timeout: options.timeoutMs ?? this.#options.timeoutMs,
        // Bound the wait for the reply too, not only the wait to be sent; the late reply
        // is discarded by the client and the connection stays usable.
        rejectInFlight: true,
        ...(options.buffers === true ? { typeMapping: BUFFERS } : {}),
      });
      this.#timeoutsInARow = 0;
      return { ok: true, value };
    } catch (err) {
      return this.#failure(err);
    }
  }

  /** Run a Lua script: by SHA1, loading the source once if Redis does not know it. */
  async script(
    script: LuaScript,
    keys: readonly RedisArg[],
    args: readonly RedisArg[],
    options: CommandOptions = {},
  ): Promise<RedisResult> {
    const tail = [String(keys.length), ...keys, ...args];
    const first = await this.command(["EVALSHA", script.sha1, ...tail], options);
    if (first.ok || !first.error.startsWith("NOSCRIPT")) return first;
    return this.command(["EVAL", script.source, ...tail], options);
  }

  /** Publish on `channel`: how many subscribers received it, or null when it failed. */
  async publish(channel: string, message: string): Promise<number | null> {
    const result = await this.command(["PUBLISH", channel, message]);
    return result.ok && typeof result.value === "number" ? result.value : null;
  }

  /**
   * Call `handler` with every message on `channel`, from now on and across reconnects
   * (a subscription made while Redis is down starts once it is back). Returns a function
   * that unsubscribes this handler.
   */
  subscribe(channel: string, handler: (message: string) => void): () => void {
    let handlers = this.#handlers.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
    }
    handlers.add(handler);
    if (!this.#closed) this.#subscribeAll(this.#subscriberClient());
    return () => {
      const current = this.#handlers.get(channel);
      if (current === undefined || !current.delete(handler) || current.size > 0) return;
      this.#handlers.delete(channel);
      this.#confirmed.delete(channel);
      const subscriber = this.#subscriber;
      if (subscriber?.isReady) subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Close both connections; every later call resolves as failed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#probe);
    await Promise.all([this.#client, this.#subscriber].map((client) => closeClient(client)));
    this.#refresh();
  }

  #fullyUp(): boolean {
    if (this.#state !== "up") return false;
    for (const channel of this.#handlers.keys()) if (!this.#confirmed.has(channel)) return false;
    return this.#handlers.size === 0 || this.#subscriber?.isReady === true;
  }

  #subscriberClient(): Client {
    if (this.#subscriber !== null) return this.#subscriber;
    const subscriber = this.#client.duplicate();
    this.#subscriber = subscriber;
    this.#watch(subscriber, () => {
      if (subscriber.isReady) this.#subscribeAll(subscriber);
    });
    subscriber.connect().catch((err: unknown) => this.#noteError(err));
    return subscriber;
  }

  /**
   * Subscribe to every channel not yet confirmed. node-redis resubscribes confirmed
   * channels by itself after a reconnect, but forgets one whose SUBSCRIBE failed (sent
   * while down): those are sent again each time the subscriber comes up.
   */
  #subscribeAll(subscriber: Client): void {
    if (!subscriber.isReady) return;
    for (const channel of this.#handlers.keys()) {
      if (this.#confirmed.has(channel)) continue;
      subscriber.subscribe(channel, this.#dispatch).then(
        () => {
          if (this.#handlers.has(channel)) this.#confirmed.add(channel);
        },
        (err: unknown) => this.#noteError(err),
      );
    }
  }

  readonly #dispatch = (message: string, channel: string): void => {
    for (const handler of this.#handlers.get(channel) ?? []) {
      try {
        handler(message);
      } catch (err) {
        this.#options.log?.error({ err, channel }, "redis message handler threw");
      }
    }
  };

  #watch(client: Client, changed: () => void): void {
    client.on("error", (err: unknown) => {
      this.#noteError(err);
      changed();
    });
    for (const event of ["ready", "end", "reconnecting", "connect"]) client.on(event, changed);
  }

  #refresh(): void {
    const up = !this.#closed && !this.#unresponsive && this.#client.isReady;
    const next: LinkState = up ? "up" : "down";
    if (next === this.#state) return;
    this.#state = next;
    if (next === "up") {
      if (this.#everUp) this.#reconnects++;
      this.#everUp = true;
      this.#options.log?.info({ redis: this.#url }, "redis link up");
    } else if (!this.#closed) {
      this.#options.log?.warn({ redis: this.#url, error: this.#lastError }, "redis link down");
    }
    for (const listener of this.#stateListeners) {
      try {
        listener(next);
      } catch (err) {
        this.#options.log?.error({ err }, "redis state listener threw");
      }
    }
  }

  /** Count Redis as down until a PING answers within the timeout again. */
  #trip(): void {
    if (this.#unresponsive || this.#closed) return;
    this.#unresponsive = true;
    this.#lastError = `unresponsive: ${TRIP_AFTER} commands in a row timed out`;
    this.#refresh();
    this.#probeLater();
  }

  #probeLater(): void {
    if (this.#closed) return;
    this.#probe = setTimeout(() => void this.#probeNow(), Math.max(50, this.timeoutMs * 2));
    this.#probe.unref();
  }

  async #probeNow(): Promise<void> {
    if (this.#closed) return;
    try {
      if (!this.#client.isReady) throw new Error("not connected");
      await this.#client.sendCommand(["PING"], { timeout: this.timeoutMs, rejectInFlight: true });
    } catch {
      this.#probeLater();
      return;
    }
    this.#unresponsive = false;
    this.#timeoutsInARow = 0;
    this.#refresh();
  }

  #noteError(err: unknown): void {
    this.#lastError = err instanceof Error ? err.message : String(err);
  }

  #failure(err: unknown): RedisResult {
    const error = err instanceof Error ? err.message : String(err);
    if (err instanceof TimeoutError || err instanceof TimeoutReadError) {
      this.#timeouts++;
      if (++this.#timeoutsInARow >= TRIP_AFTER) this.#trip();
      return { ok: false, failure: "timeout", error };
    }
    if (err instanceof ClientOfflineError || !this.#client.isReady) {
      // Lost between the check and the send, or under a command in flight.
      if (!(err instanceof ClientOfflineError)) this.#errors++;
      return { ok: false, failure: "down", error };
    }
    // A script Redis does not have yet (after a restart) is sent again: not a failure.
    if (error.startsWith("NOSCRIPT")) return { ok: false, failure: "error", error };
    this.#errors++;
    if (!(err instanceof ErrorReply)) this.#options.log?.warn({ err }, "redis command failed");
    return { ok: false, failure: "error", error };
  }
}

async function closeClient(client: Client | null): Promise<void> {
  if (client === null) return;
  try {
    if (!client.isReady) {
      client.destroy();
      return;
    }
    // A graceful close waits for replies in flight; from a server that has just died they
    // never come, so it is bounded, then the connection is dropped.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), 1_000);
    });
    const closed = await Promise.race([
      client.close().then(
        () => "closed" as const,
        () => "closed" as const,
      ),
      late,
    ]);
    clearTimeout(timer);
    if (closed === "late") client.destroy();
  } catch {
    // Already closed or never connected: nothing left to release.
  }
}

/** The URL as health reports it: a password never leaves the process. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "(unparsable url)";
  }
}
