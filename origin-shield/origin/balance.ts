/**
 * One server of an origin's pool, and how the pool chooses among them: the fewest
 * outstanding requests per unit of weight (weighted least-outstanding, nginx's
 * `least_conn` with weights), ties shared by smooth weighted round-robin (nginx's).
 *
 * Why not power-of-two-choices on latency: the shield is the only sender it counts, so
 * its outstanding counts are exact and cost nothing to keep, while a cache miss's latency
 * says more about the object (1 KiB or 1 GiB, cached by the origin or not) than about the
 * server that served it. Outstanding requests still follow speed: a slow or stalled
 * server holds its requests longer and so receives fewer. A full scan is cheaper than
 * sampling for the handful of servers a pool has, and exact. Equal loads (every server
 * idle, at low traffic) fall to the round-robin, so weights hold at any concurrency.
 */
import { Breaker, type BreakerOptions } from "./breaker.ts";

export class PoolServer {
  /** Base URL, as configured: what health and metrics call the server. */
  readonly url: string;
  readonly weight: number;
  readonly breaker: Breaker;
  /** Requests sent and not yet settled (their response body read or dropped). */
  outstanding = 0;
  /** Smooth weighted round-robin credit, used to break ties (pickServer). */
  credit = 0;
  /** The active checks' verdict; always true without them. */
  healthy = true;
  /** Active checks run against this server. */
  checked = false;
  /** Consecutive passed and failed active checks. */
  passes = 0;
  fails = 0;
  requests = 0;
  failures = 0;
  checksPassed = 0;
  checksFailed = 0;

  constructor(url: string, weight: number, breaker: BreakerOptions) {
    this.url = url;
    this.weight = weight;
    this.breaker = new Breaker(breaker);
  }
}

export interface Choice {
  readonly server: PoolServer;
  /** This request is the half-open breaker's probe. */
  readonly probe: boolean;
}

/**
 * When a half-open server's probe is taken: `prefer` by a request that can be retried
 * elsewhere should the probe fail (a GET or HEAD), `fallback` by any other only when no
 * server is fully up, `never` by a retry (it should land where answers come from).
 */
export type ProbePolicy = "prefer" | "fallback" | "never";

/**
 * The server for the next request, or null when none may take it. When no server that
 * passes its active checks may take it, the checks are ignored and the breakers alone
 * decide (Envoy's "panic mode"): a health endpoint that fails while the site works must
 * not take the whole origin down, and a server that really is dead is still ejected by
 * its breaker after a few real failures.
 */
export function pickServer(
  servers: readonly PoolServer[],
  now: number,
  except: PoolServer | null,
  probes: ProbePolicy,
): Choice | null {
  return pick(servers, now, except, probes, true) ?? pick(servers, now, except, probes, false);
}

/** Whether requests go to servers failing their checks now, none passing may (pickServer). */
export function panicking(servers: readonly PoolServer[], now: number): boolean {
  const open = (server: PoolServer) => server.breaker.admits(now) !== "no";
  return (
    !servers.some((server) => server.healthy && open(server)) &&
    servers.some((server) => !server.healthy && open(server))
  );
}

function pick(
  servers: readonly PoolServer[],
  now: number,
  except: PoolServer | null,
  probes: ProbePolicy,
  healthyOnly: boolean,
): Choice | null {
  let probe: PoolServer | null = null;
  let bestOutstanding = 0;
  let bestWeight = 0;
  for (const server of servers) {
    if (server === except || (healthyOnly && !server.healthy)) continue;
    const admission = server.breaker.admits(now);
    if (admission === "probe") probe ??= server;
    if (admission !== "yes") continue;
    // outstanding / weight, compared without division.
    if (bestWeight === 0 || server.outstanding * bestWeight < bestOutstanding * server.weight) {
      bestOutstanding = server.outstanding;
      bestWeight = server.weight;
    }
  }
  if (probe !== null && (probes === "prefer" || (probes === "fallback" && bestWeight === 0))) {
    probe.breaker.beginProbe();
    return { server: probe, probe: true };
  }
  if (bestWeight === 0) return null;
  // Among the least loaded: each gains its weight in credit, the richest is chosen and
  // pays back what all of them gained.
  let chosen: PoolServer | null = null;
  let total = 0;
  for (const server of servers) {
    if (server === except || (healthyOnly && !server.healthy)) continue;
    if (server.breaker.admits(now) !== "yes") continue;
    if (server.outstanding * bestWeight !== bestOutstanding * server.weight) continue;
    server.credit += server.weight;
    total += server.weight;
    if (chosen === null || server.credit > chosen.credit) chosen = server;
  }
  if (chosen === null) return null;
  chosen.credit -= total;
  return { server: chosen, probe: false };
}
