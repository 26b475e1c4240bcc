/**
 * A closed-loop HTTP load run with autocannon (programmatic; it ships no types, so the
 * few parts used are typed here), checking every response's status and headers and
 * sampling the server process's CPU time over the run.
 */
import { createRequire } from "node:module";
import { cpuMs } from "./proc.ts";
import { fail, percentile } from "./table.ts";

interface ParsedHead {
  readonly statusCode: number;
  /** Raw [name, value, …] as received. */
  readonly headers: readonly string[];
}

interface Client {
  on(event: "headers", listener: (head: ParsedHead) => void): void;
}

interface Result {
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly mismatches: number;
  readonly resets: number;
}

interface Instance {
  on(
    event: "response",
    listener: (client: Client, status: number, bytes: number, ms: number) => void,
  ): void;
}

type Autocannon = (
  options: {
    url: string;
    connections: number;
    pipelining: number;
    duration: number;
    timeout: number;
    headers?: Readonly<Record<string, string>> | undefined;
    setupClient: (client: Client) => void;
  },
  done: (err: Error | null, result: Result) => void,
) => Instance;

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export interface LoadOptions {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  /** Checks one response head; returns a complaint, or null when it is right. */
  readonly check: (status: number, headers: readonly string[]) => string | null;
  /** The server process whose CPU time is sampled. */
  readonly pid: number;
  /** Request headers, name → value. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Server CPU time per response, µs. */
  readonly cpuUs: number;
  /** Server CPU use over the run, % of one core. */
  readonly cpuPct: number;
  readonly responses: number;
}

export function load(o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve) => {
    const latencies: number[] = [];
    let bad = 0;
    let firstComplaint: string | null = null;
    const cpu0 = cpuMs(o.pid);
    const t0 = performance.now();
    const instance = autocannon(
      {
        url: o.url,
        connections: o.connections,
        pipelining: 1,
        duration: o.seconds,
        timeout: 10,
        headers: o.headers,
        setupClient: (client) =>
          client.on("headers", (head) => {
            const complaint = o.check(head.statusCode, head.headers);
            if (complaint !== null) {
              bad++;
              firstComplaint ??= complaint;
            }
          }),
      },
      (err, result) => {
        const seconds = (performance.now() - t0) / 1000;
        const cpu = cpuMs(o.pid) - cpu0;
        if (err !== null) fail(`autocannon: ${err.message}`);
        const problems = result.errors + result.timeouts + result.non2xx + result.mismatches;
        if (problems > 0 || bad > 0) {
          fail(
            `${o.url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx, ` +
              `${bad} wrong responses (first: ${firstComplaint ?? "—"})`,
          );
        }
        if (latencies.length === 0) fail(`${o.url}: no responses`);
        resolve({
          rps: latencies.length / seconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          cpuUs: (cpu * 1000) / latencies.length,
          cpuPct: (cpu / 10 / seconds) | 0,
          responses: latencies.length,
        });
      },
    );
    instance.on("response", (_client, _status, _bytes, ms) => {
      latencies.push(ms);
    });
  });
}

/** The value of a header in a raw [name, value, …] list (first occurrence), or null. */
export function rawHeader(headers: readonly string[], name: string): string | null {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === name) return headers[i + 1] ?? null;
  }
  return null;
}
