/**
 * Leases for collapsing requests across shield nodes (collapse/cluster-claim.ts): before
 * a node fetches a key from the origin for the whole cluster it takes the key's lease;
 * the others wait for its announcement and read what it stored.
 *
 *   P lease:<name>       the lease: SET NX PX, its value the holder's fencing token
 *   P lease-token        the counter tokens come from (INCR): every lease a new number
 *   P lease-done:<name>  "the last holder announced", kept briefly, removed by the next
 *                        acquire: a waiter that starts after the announcement still
 *                        learns of it instead of mistaking the lease's end for a death
 *   P lease-done         the channel announcements go out on, the message being <name>
 *
 * <name> is storageName(primary key) (128 bits of SHA-256): keys can be long. Extending
 * and releasing compare the token first, in one script, so a holder whose lease already
 * expired can never extend or delete the lease another node has taken since.
 *
 * Redis down or slow means "unavailable", never an error: the caller fetches itself, and
 * collapsing within the node still holds.
 */
import { storageName } from "../../core/key/index.ts";
import { luaScript, type RedisLink } from "./redis-link.ts";

export interface LeasesOptions {
  readonly link: RedisLink;
  /** Prefix of every key and of the channel. */
  readonly keyPrefix: string;
  /** How often a waiter checks whether the lease still exists (its holder alive), ms. */
  readonly pollMs?: number | undefined;
  /** How long an announcement stays readable for waiters that start after it, ms. */
  readonly doneMs?: number | undefined;
  /**
   * Bound of each lease call, ms (default: the link's). Leases are taken on the miss path,
   * which waits for an origin anyway: a bound a little looser than a hit's keeps a node
   * whose event loop is busy with a herd from giving up on replies already in its socket.
   */
  readonly timeoutMs?: number | undefined;
}

export type Acquired =
  | { readonly kind: "held-by-us"; readonly token: number }
  | { readonly kind: "held-by-other" }
  | { readonly kind: "unavailable" };

export type WaitResult = "done" | "expired" | "timeout" | "unavailable";

/** KEYS: lease, counter, done marker. ARGV: ttl. Returns the new token, or 0 if held. */
const ACQUIRE = luaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
if not redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('DEL', KEYS[3])
return token
`);

/** KEYS: lease. ARGV: token, ttl. 1 when extended, 0 when the lease is not ours. */
const EXTEND = luaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`);

/** KEYS: lease. ARGV: token. 1 when released, 0 when the lease is not ours. */
const RELEASE = luaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);

/** KEYS: done marker. ARGV: channel, name, marker ttl. Returns the receivers. */
const ANNOUNCE = luaScript(`
redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
return redis.call('PUBLISH', ARGV[1], ARGV[2])
`);

/** KEYS: lease, done marker. Returns 1 when announced, 0 while held, -1 when gone. */
const CHECK = luaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return -1
`);

interface Waiter {
  settle(result: WaitResult): void;
}

export class Leases {
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #pollMs: number;
  readonly #doneMs: number;
  readonly #call: { readonly timeoutMs?: number | undefined };
  /** Name → the waiters on this node for that key's announcement. */
  readonly #waiters = new Map<string, Set<Waiter>>();
  #subscribed = false;

  constructor(options: LeasesOptions) {
    this.#link = options.link;
    this.#prefix = options.keyPrefix;
    this.#channel = `${options.keyPrefix}lease-done`;
    this.#pollMs = options.pollMs ?? 100;
    this.#doneMs = options.doneMs ?? 5_000;
    this.#call = { timeoutMs: options.timeoutMs };
    // Subscribed from the start: a node's first wait must not depend on a subscription
    // made at that moment reaching Redis before the holder announces.
    this.#subscribe();
  }

  async acquire(primary: string, ttlMs: number): Promise<Acquired> {
    const name = storageName(primary);
    const result = await this.#link.script(
      ACQUIRE,
      [this.#lease(name), `${this.#prefix}lease-token`, this.#done(name)],
      [String(wholeMs(ttlMs))],
      this.#call,
    );
    if (!result.ok || typeof result.value !== "number") return { kind: "unavailable" };
    return result.value > 0
      ? { kind: "held-by-us", token: result.value }
      : { kind: "held-by-other" };
  }

  /** Renew our lease for `ttlMs` from now; false if it is no longer ours (or Redis failed). */
  async extend(primary: string, token: number, ttlMs: number): Promise<boolean> {
    const lease = this.#lease(storageName(primary));
    const result = await this.#link.script(
      EXTEND,
      [lease],
      [String(token), String(wholeMs(ttlMs))],
      this.#call,
    );
    return result.ok && result.value === 1;
  }

  /** End our lease; does nothing to a lease another node holds now. */
  async release(primary: string, token: number): Promise<boolean> {
    const result = await this.#link.script(
      RELEASE,
      [this.#lease(storageName(primary))],
      [String(token)],
      this.#call,
    );
    return result.ok && result.value === 1;
  }

  /** Tell every node's waiters that the fill for `primary` is done; false if Redis failed. */
  async announce(primary: string): Promise<boolean> {
    const name = storageName(primary);
    const result = await this.#link.script(
      ANNOUNCE,
      [this.#done(name)],
      [this.#channel, name, String(this.#doneMs)],
      this.#call,
    );
    return result.ok;
  }

  /**
   * Wait for the holder of `primary`'s lease to announce: "done" on its announcement,
   * "expired" when the lease ends without one (its holder died, or released without
   * announcing), "timeout" after `timeoutMs` or when `signal` aborts, "unavailable" when
   * Redis cannot tell.
   */
  waitFor(primary: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    if (this.#link.state === "down") return Promise.resolve("unavailable");
    if (signal?.aborted) return Promise.resolve("timeout");
    this.#subscribe();
    const name = storageName(primary);
    const keys = [this.#lease(name), this.#done(name)];
    return new Promise<WaitResult>((resolve) => {
      let settled = false;
      let poll: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        settle: (result) => {
          if (settled) return;
          settled = true;
          clearTimeout(limit);
          clearTimeout(poll);
          signal?.removeEventListener("abort", aborted);
          const set = this.#waiters.get(name);
          set?.delete(waiter);
          if (set?.size === 0) this.#waiters.delete(name);
          resolve(result);
        },
      };
      const aborted = () => waiter.settle("timeout");
      const limit = setTimeout(() => waiter.settle("timeout"), Math.max(0, timeoutMs));
      signal?.addEventListener("abort", aborted, { once: true });
      let waiters = this.#waiters.get(name);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(name, waiters);
      }
      waiters.add(waiter);
      // The announcement may have come before this waiter was registered, and a holder
      // that dies announces nothing: check at once, then at a modest interval.
      const check = async () => {
        const result = await this.#link.script(CHECK, keys, [], this.#call);
        if (settled) return;
        if (!result.ok) waiter.settle("unavailable");
        else if (result.value === 1) waiter.settle("done");
        else if (result.value === -1) waiter.settle("expired");
        else poll = setTimeout(check, this.#pollMs);
      };
      void check();
    });
  }

  /** One subscription per node; messages are dispatched to the waiters by key. */
  #subscribe(): void {
    if (this.#subscribed) return;
    this.#subscribed = true;
    this.#link.subscribe(this.#channel, (name) => {
      for (const waiter of [...(this.#waiters.get(name) ?? [])]) waiter.settle("done");
    });
  }

  #lease(name: string): string {
    return `${this.#prefix}lease:${name}`;
  }

  #done(name: string): string {
    return `${this.#prefix}lease-done:${name}`;
  }
}

/** A PX argument: a whole number of ms, at least 1. */
function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
