/**
 * One origin fetch per key across every shield node. The edge routes each key to one
 * node, so a herd usually lands on one node and collapses there (collapser.ts); but
 * after a failover, a restart or a request that reached another node directly, two
 * nodes can miss the same key at once. Before a shared fill fetches, it claims the key
 * for the cluster with a lease in Redis (cluster/lease.ts):
 *
 *   lease taken    → fetch; once the body has landed in Redis, announce and release
 *   held elsewhere → wait for the holder's announcement, then read what it stored (a hit
 *                    from Redis); if nothing usable is there (too large for Redis, not
 *                    storable, private), fetch after all
 *   holder died    → its lease expires and a waiter takes over
 *   Redis down     → fetch (collapsing within this node still holds)
 *
 * No request waits longer than the origin's own timeouts would have let it.
 */
import type { RequestLike } from "../../core/policy/index.ts";
import type { Leases } from "../cluster/lease.ts";
import type { StoredObject } from "../store/stored-object.ts";

/** What a claim reads of a fill: its key, and the request it fetches for. */
export interface ClaimedFill {
  readonly primary: string;
  readonly request: RequestLike;
}

/** What a fill does after claiming its key. */
export type Claim =
  | { readonly kind: "fetch"; readonly lease: HeldLease | null }
  | { readonly kind: "peer"; readonly obj: StoredObject };

export interface ClusterClaims {
  claim(job: ClaimedFill): Promise<Claim>;
}

export interface LeaseClaimOptions {
  readonly leases: Leases;
  /** The stored response the job's request selects, read through every tier. */
  readonly lookup: (job: ClaimedFill) => Promise<StoredObject | undefined>;
  readonly leaseMs: number;
  /** The longest a fill waits on another node's fetch before fetching itself. */
  readonly maxWaitMs: number;
  readonly now: () => number;
  /** Told how each wait on another node ended. */
  readonly onWait: (result: "peer" | "fetch" | "expired" | "timeout" | "unavailable") => void;
}

export class LeaseClaims implements ClusterClaims {
  readonly #options: LeaseClaimOptions;

  constructor(options: LeaseClaimOptions) {
    this.#options = options;
  }

  async claim(job: ClaimedFill): Promise<Claim> {
    const { leases, leaseMs, maxWaitMs } = this.#options;
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      const got = await leases.acquire(job.primary, leaseMs);
      if (got.kind === "unavailable") {
        // The claim may have reached Redis even though its answer did not come back in
        // time: whoever waits on that orphaned lease is told when this fetch is done,
        // rather than waiting for the lease to run out.
        return { kind: "fetch", lease: new HeldLease(leases, job.primary, null, leaseMs) };
      }
      if (got.kind === "held-by-us") {
        const lease = new HeldLease(leases, job.primary, got.token, leaseMs);
        // Another node may have stored the key and let its lease go between this node's
        // lookup and now: read once more rather than fetch it a second time.
        const stored = await this.#usable(job);
        if (stored === undefined) return { kind: "fetch", lease };
        lease.end();
        return { kind: "peer", obj: stored };
      }
      const left = deadline - performance.now();
      if (left <= 0) return this.#gaveUp("timeout");
      const waited = await leases.waitFor(job.primary, left);
      if (waited === "expired") {
        // The lease is gone without its announcement reaching us: its holder died, or
        // stored the key and released it just before the message arrived.
        const stored = await this.#usable(job);
        if (stored !== undefined) return this.#fromPeer(stored);
        this.#options.onWait("expired");
        continue; // whoever takes the lease now fetches
      }
      if (waited !== "done") return this.#gaveUp(waited);
      const stored = await this.#usable(job);
      if (stored !== undefined) return this.#fromPeer(stored);
      this.#options.onWait("fetch");
      return { kind: "fetch", lease: null };
    }
  }

  /**
   * What another node stored for this request, if it is fresh now: one stored already
   * stale (max-age=0) is revalidated here like any other.
   */
  async #usable(job: ClaimedFill): Promise<StoredObject | undefined> {
    const obj = await this.#options.lookup(job);
    return obj !== undefined && this.#options.now() < obj.meta.freshUntil ? obj : undefined;
  }

  #fromPeer(obj: StoredObject): Claim {
    this.#options.onWait("peer");
    return { kind: "peer", obj };
  }

  #gaveUp(why: "timeout" | "unavailable"): Claim {
    this.#options.onWait(why);
    return { kind: "fetch", lease: null };
  }
}

/**
 * The lease this node holds while it fetches a key: renewed while the fetch runs (a
 * large body can take longer than one lease), and ended with an announcement once what
 * it fetched is where other nodes can read it, or is known never to be. Without a token
 * (the claim's answer was lost) there is nothing to renew or release, only to announce.
 */
export class HeldLease {
  readonly #leases: Leases;
  readonly #primary: string;
  readonly #token: number | null;
  readonly #renew: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(leases: Leases, primary: string, token: number | null, leaseMs: number) {
    this.#leases = leases;
    this.#primary = primary;
    this.#token = token;
    if (token === null) return;
    this.#renew = setInterval(
      () => void leases.extend(primary, token, leaseMs),
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    this.#renew.unref();
  }

  /** Announce and release once `landed` settles; later calls do nothing. */
  end(landed: Promise<unknown> = Promise.resolve()): void {
    if (this.#ended) return;
    this.#ended = true;
    void landed
      .catch(() => undefined)
      .then(async () => {
        clearInterval(this.#renew);
        await this.#leases.announce(this.#primary);
        if (this.#token !== null) await this.#leases.release(this.#primary, this.#token);
      });
  }
}
