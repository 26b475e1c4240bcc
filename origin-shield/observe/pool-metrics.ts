/**
 * Prometheus metrics of the origin pools (origin/pool.ts), registered on the shield's
 * registry beside the others (metrics.ts) and read from the pools' own counts at each
 * scrape, so the request path never touches prom-client for them. Label values come from
 * the config (origin names, server URLs): their number is bounded.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { PoolStats, ServerStats } from "../origin/pool.ts";

type Labels = Record<string, string>;

/**
 * A counter fed from a running total read at scrape time: it adds what the total gained
 * since the last scrape (the pools' totals never fall).
 */
function totalCounter(
  registry: Registry,
  spec: { name: string; help: string; labelNames: string[] },
  totals: () => Iterable<[Labels, number]>,
): void {
  const reported = new Map<string, number>();
  new Counter({
    ...spec,
    registers: [registry],
    collect() {
      for (const [labels, total] of totals()) {
        const key = JSON.stringify(labels);
        const before = reported.get(key) ?? 0;
        this.inc(labels, total - before);
        reported.set(key, total);
      }
    },
  });
}

export function registerPoolMetrics(registry: Registry, pools: () => readonly PoolStats[]): void {
  const servers = (): { labels: Labels; server: ServerStats }[] =>
    pools().flatMap((pool) =>
      pool.servers.map((server) => ({
        labels: { origin: pool.origin, server: server.url },
        server,
      })),
    );
  const labelNames = ["origin", "server"];
  new Gauge({
    name: "shield_origin_server_up",
    help: "1 while a server of an origin's pool takes requests (up, or half-open for its probe), 0 while ejected by its breaker or failing its health checks.",
    labelNames,
    registers: [registry],
    collect() {
      for (const { labels, server } of servers()) {
        this.set(labels, server.state === "up" || server.state === "half-open" ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "shield_origin_server_outstanding",
    help: "Requests sent to a server and not yet settled (response body read or dropped).",
    labelNames,
    registers: [registry],
    collect() {
      for (const { labels, server } of servers()) this.set(labels, server.outstanding);
    },
  });
  const serverTotal = (name: string, help: string, value: (server: ServerStats) => number) =>
    totalCounter(registry, { name, help, labelNames }, () =>
      servers().map(({ labels, server }): [Labels, number] => [labels, value(server)]),
    );
  serverTotal(
    "shield_origin_server_requests_total",
    "Requests sent to a server of an origin's pool, retries included.",
    (server) => server.requests,
  );
  serverTotal(
    "shield_origin_server_failures_total",
    "Requests a server failed before answering: refused, cut, or timed out.",
    (server) => server.failures,
  );
  serverTotal(
    "shield_origin_server_ejections_total",
    "Times a server's circuit breaker ejected it.",
    (server) => server.ejections,
  );
  totalCounter(
    registry,
    {
      name: "shield_origin_health_checks_total",
      help: "Active health checks of a server, by result (pass, fail).",
      labelNames: ["origin", "server", "result"],
    },
    () =>
      servers().flatMap(({ labels, server }): [Labels, number][] => [
        [{ ...labels, result: "pass" }, server.checksPassed],
        [{ ...labels, result: "fail" }, server.checksFailed],
      ]),
  );
  totalCounter(
    registry,
    {
      name: "shield_origin_retries_total",
      help: "Requests retried on another server after a connection failure, by result: sent, or refused by the retry budget (shield.origin.retryBudget).",
      labelNames: ["origin", "result"],
    },
    () =>
      pools().flatMap((pool): [Labels, number][] => [
        [{ origin: pool.origin, result: "sent" }, pool.retries],
        [{ origin: pool.origin, result: "refused" }, pool.retriesRefused],
      ]),
  );
  totalCounter(
    registry,
    {
      name: "shield_origin_down_total",
      help: "Requests answered at once (stale, or 503 origin_down) because every server of their origin was out.",
      labelNames: ["origin"],
    },
    () => pools().map((pool): [Labels, number] => [{ origin: pool.origin }, pool.down]),
  );
}
