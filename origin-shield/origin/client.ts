/**
 * The shield's only way out: an undici keep-alive pool per origin, with connect, header
 * and body timeouts. Failures are classified once, here, into the few kinds the cache
 * acts on (RFC 5861 §4 serves stale on any of them; the client sees 502 or 504).
 */
import { Readable } from "node:stream";
import { Agent, type Dispatcher } from "undici";
import type { ShieldConfig } from "../../core/config/index.ts";
import type { EntryMeta, HeaderPairs } from "../../core/policy/index.ts";
import { nodeHeaderPairs } from "../http/headers.ts";

export type OriginFailure = "timeout" | "connect" | "reset" | "too-large" | "aborted";

export class OriginError extends Error {
  readonly kind: OriginFailure;
  constructor(kind: OriginFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OriginError";
    this.kind = kind;
  }

  /** 504 when the origin was too slow, 502 for every other failure (RFC 9110 §15.6). */
  get status(): number {
    return this.kind === "timeout" ? 504 : 502;
  }
}

export interface OriginRequest {
  /** Absolute URL on a configured origin (see routing.ts). */
  readonly url: string;
  readonly method: string;
  /** Flat [name, value, …] list (forward.ts). */
  readonly headers: string[];
  readonly body?: AsyncIterable<Uint8Array> | null | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface OriginResponse {
  readonly status: number;
  /** Lowercase names, the origin's order, repeated fields (Set-Cookie) kept apart. */
  readonly headers: HeaderPairs;
  readonly body: AsyncIterable<Buffer>;
  /** Stop reading the body and release the connection. */
  dispose(): void;
  /**
   * An image variant's only (produce.ts): its source's stored lifetimes, which the
   * variant's entry takes instead of its own; null when the source is not stored, so
   * neither is the variant.
   */
  readonly lifetime?: Lifetimes | null;
}

/** When a stored entry stops being fresh, and its stale windows end (ms since epoch). */
export type Lifetimes = Pick<
  EntryMeta,
  "freshUntil" | "staleWhileRevalidateUntil" | "staleIfErrorUntil"
>;

export class OriginClient {
  readonly #agent: Agent;

  constructor(config: ShieldConfig["origin"]) {
    this.#agent = new Agent({
      connect: { timeout: config.connectTimeoutMs },
      connections: config.connections,
      headersTimeout: config.headersTimeoutMs,
      bodyTimeout: config.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
    });
  }

  async request(req: OriginRequest): Promise<OriginResponse> {
    const url = new URL(req.url);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.#agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: asReadable(req.body),
        signal: req.signal,
      });
    } catch (err) {
      throw classify(err);
    }
    const body = res.body;
    return {
      status: res.statusCode,
      headers: nodeHeaderPairs(res.headers),
      body: mapErrors(body),
      // undici's body emits RequestAbortedError when destroyed before its end; a body no
      // one iterates (a 304, a HEAD) has no 'error' listener, and that error would be
      // uncaught and take the process down.
      dispose: () => {
        if (body.destroyed) return;
        body.on("error", ignore);
        body.destroy();
      },
    };
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

function ignore(): void {}

function asReadable(body: AsyncIterable<Uint8Array> | null | undefined): Readable | null {
  if (body === null || body === undefined) return null;
  return body instanceof Readable ? body : Readable.from(body, { objectMode: false });
}

async function* mapErrors(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    throw classify(err);
  }
}

export function classify(err: unknown): OriginError {
  if (err instanceof OriginError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  const message = e?.message ?? String(err);
  switch (e?.code) {
    case "UND_ERR_CONNECT_TIMEOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
    case "ETIMEDOUT":
      return new OriginError("timeout", message, { cause: err });
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new OriginError("connect", message, { cause: err });
    case "UND_ERR_ABORTED":
      return new OriginError("aborted", message, { cause: err });
    default:
      if (e?.name === "AbortError") return new OriginError("aborted", message, { cause: err });
      return new OriginError("reset", message, { cause: err });
  }
}
