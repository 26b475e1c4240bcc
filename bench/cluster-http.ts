/**
 * What bench/cluster.ts needs to talk to its shield nodes: the config each node runs
 * with, and a small keep-alive client that sends the same Host to every node (the cache
 * key holds the authority, port included, so requests naming each node's own port would
 * never share a key; the edge sends one Host to every node in the same way).
 */
import { Agent, type IncomingHttpHeaders, request } from "node:http";

/** The host every request names; the bench origin answers for it. */
export const BENCH_HOST = "bench.example";
/** Bearer token of POST /__shield/purge on every node (at least 16 characters). */
export const PURGE_TOKEN = "bench-cluster-purge-token";

/**
 * One node's config as JSON for bench/lib/serve-shield.ts: the loopback origin, for
 * BENCH_HOST and for 127.0.0.1 (the load generator names the node's own address), and
 * the given `shield` settings.
 */
export function nodeConfig(originUrl: string, shield: Record<string, unknown>): string {
  return JSON.stringify({
    origins: [{ name: "bench", url: originUrl, hosts: [BENCH_HOST, "127.0.0.1"] }],
    shield: { purgeToken: PURGE_TOKEN, ...shield },
  });
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** From the call to the body's last byte, ms. */
  readonly ms: number;
}

export const cacheStatusOf = (answer: Answer): string =>
  String(answer.headers["cache-status"] ?? "");

/** What /__shield/health says of the Redis tier. */
export interface Health {
  readonly status: string;
  readonly tiers: { readonly redis: { readonly state: string } | null };
}

/** Requests to one node over keep-alive connections of its own. */
export class NodeClient {
  readonly url: string;
  readonly #agent: Agent;

  /** `sockets`: how many requests may be in flight at once. */
  constructor(url: string, sockets = 1) {
    this.url = url;
    // Idle connections are closed here before the node's own 5 s keep-alive timeout
    // would close them under a request being sent.
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets, timeout: 4_000 });
  }

  /** GET `path` for BENCH_HOST, the whole body read. */
  get(path: string): Promise<Answer> {
    return this.#send("GET", path, { host: BENCH_HOST });
  }

  /** POST /__shield/purge for these absolute URLs (hard purge). */
  purge(urls: readonly string[]): Promise<Answer> {
    const body = JSON.stringify({ urls });
    return this.#send(
      "POST",
      "/__shield/purge",
      {
        authorization: `Bearer ${PURGE_TOKEN}`,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
      },
      body,
    );
  }

  async health(): Promise<Health> {
    const answer = await this.#send("GET", "/__shield/health", {});
    return JSON.parse(answer.body.toString()) as Health;
  }

  /** The sum of one Prometheus counter's samples whose labels include `labels`. */
  async metric(name: string, labels: string): Promise<number> {
    const answer = await this.#send("GET", "/__shield/metrics", {});
    let sum = 0;
    for (const line of answer.body.toString().split("\n")) {
      if (line.startsWith(`${name}{`) && line.includes(labels)) {
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return sum;
  }

  close(): void {
    this.#agent.destroy();
  }

  #send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        { method, headers, agent: this.#agent, timeout: 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              ms: performance.now() - started,
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** "low–high" of a list of figures. */
export function spread(values: readonly number[], digits = 1): string {
  return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
}
