/**
 * Passive health of the shield nodes, as one isolate has seen them: a node that failed a
 * request (no connection, no response headers in time, or a 5xx no shield signed; see
 * fetch-upstream.ts) is marked down for a while, and requests try the nodes that are not
 * marked first. So a node that accepts connections but never answers costs one timeout,
 * not one per miss routed to it; its keys go to their next node in rendezvous order
 * meanwhile, which is where they would go if it were removed.
 *
 * The mark lasts `baseMs`, doubling with each further failure in a row up to `maxMs`
 * (edge.nodeBackoffMs, edge.nodeMaxBackoffMs); any answer clears it. Once it runs out, the
 * next request whose order puts the node first tries it again, and while that try is
 * under way the node stays skipped by everyone else: one request at a time finds out
 * whether it is back. Marks only reorder: a marked node is still tried after the others,
 * and when every node is marked they are all tried in the key's order, so a mark alone
 * never fails a request.
 *
 * Nothing here is shared between isolates (Workers have no cheap shared memory), so each
 * isolate pays for its own first failure. The table is bounded: at most MAX_MARKS nodes,
 * the least recently failed forgotten first (forgetting a mark only means trying the node).
 */

export interface Backoff {
  /** How long the first failure marks a node down, ms. */
  readonly baseMs: number;
  /** The longest a run of failures marks it down, ms. */
  readonly maxMs: number;
}

interface Mark {
  /** Failures in a row. */
  failures: number;
  /** Until when (clock ms) the node is skipped. */
  until: number;
}

/** A node's mark, for the admin's view and for tests. */
export interface NodeMark {
  readonly node: string;
  readonly failures: number;
  /** How long it is still skipped, ms (0: the next request may try it). */
  readonly skippedForMs: number;
}

/** Far more nodes than a cluster has: the bound only matters if SHIELD_NODES churns. */
const MAX_MARKS = 256;

export class NodeHealth {
  readonly #marks = new Map<string, Mark>();

  /** Whether `node` is skipped at `now`. */
  isDown(node: string, now: number): boolean {
    const mark = this.#marks.get(node);
    return mark !== undefined && now < mark.until;
  }

  /**
   * The nodes in the order to try them: those not marked down at `now` first, then the
   * marked ones, each group in the order given (the key's rendezvous order).
   */
  order(nodes: readonly string[], now: number): readonly string[] {
    if (this.#marks.size === 0) return nodes;
    const up: string[] = [];
    const down: string[] = [];
    for (const node of nodes) (this.isDown(node, now) ? down : up).push(node);
    return down.length === 0 ? nodes : [...up, ...down];
  }

  /**
   * A request is about to try `node`, for at most `attemptMs`. A marked node stays
   * skipped by other requests until this try has answered or timed out: after a mark
   * runs out, one request probes the node, not every request that arrives meanwhile.
   */
  trying(node: string, now: number, attemptMs: number): void {
    const mark = this.#marks.get(node);
    if (mark !== undefined) mark.until = Math.max(mark.until, now + attemptMs);
  }

  /** The node answered: it is up. */
  succeeded(node: string): void {
    this.#marks.delete(node);
  }

  /** The node failed at `now`: skip it for the next backoff. */
  failed(node: string, now: number, backoff: Backoff): void {
    const failures = (this.#marks.get(node)?.failures ?? 0) + 1;
    const doublings = Math.min(failures - 1, 30);
    const skipMs = Math.min(backoff.maxMs, backoff.baseMs * 2 ** doublings);
    // Re-inserted, so the Map's order is the order of last failure.
    this.#marks.delete(node);
    if (this.#marks.size >= MAX_MARKS) {
      const oldest = this.#marks.keys().next();
      if (oldest.done !== true) this.#marks.delete(oldest.value);
    }
    this.#marks.set(node, { failures, until: now + skipMs });
  }

  /** Every marked node at `now`. */
  marks(now: number): NodeMark[] {
    return [...this.#marks].map(([node, mark]) => ({
      node,
      failures: mark.failures,
      skippedForMs: Math.max(0, mark.until - now),
    }));
  }
}
