/**
 * The shield's only way out: an undici keep-alive pool per origin, with connect, header
 * and body timeouts, and at most `connections` requests per origin at once (slots.ts).
 * Failures are classified once, here, into the few kinds the cache acts on (RFC 5861 §4
 * serves stale on any of them; the client sees 502, 503 or 504).
 *
 * A response's body reaches its reader only when it is provably complete: undici checks
 * Content-Length and the chunked terminator, and this client checks the one case undici
 * does not report: a body delimited by the connection's close (no Content-Length, not
 * chunked) that a TCP reset cut short, which undici ends as if the origin had closed
 * cleanly. Every field of a response is checked as Node's server will check it, so that
 * nothing relayed or stored can fail to be written to a client later.
 */
import { Readable } from "node:stream";
import { Agent, buildConnector, type Dispatcher } from "undici";
import type { ShieldConfig } from "../../core/config/index.ts";
import type { HeaderPairs } from "../../core/policy/index.ts";
import { nodeHeaderPairs, writableField } from "../http/headers.ts";
import type { InterimSink } from "../types.ts";
import { InterimWatch } from "./interim.ts";
import { OriginError } from "./origin-error.ts";
import { type Release, Slots, SlotsBusy } from "./slots.ts";

export interface OriginRequest {
  /** Absolute URL on a configured origin (see routing.ts). */
  readonly url: string;
  readonly method: string;
  /** Flat [name, value, …] list (the request-header policy's output). */
  readonly headers: string[];
  readonly body?: AsyncIterable<Uint8Array> | null | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Takes the interim responses (102, 103) this request receives (interim.ts). */
  readonly interim?: InterimSink | undefined;
  /**
   * Called once the request no longer holds a connection: it failed, or its response
   * body was read or dropped (the pool counts outstanding requests with it).
   */
  readonly settled?: (() => void) | undefined;
}

export interface OriginResponse {
  readonly status: number;
  /** Lowercase names, the origin's order, repeated fields (Set-Cookie) kept apart. */
  readonly headers: HeaderPairs;
  /** Ends only when the body is complete; a cut body throws an OriginError. */
  readonly body: AsyncIterable<Buffer>;
  /** Stop reading the body and release the connection. */
  dispose(): void;
}

/** Statuses whose responses never have a body (RFC 9110 §6.4.1). */
const NO_BODY = new Set([204, 304]);

export class OriginClient {
  readonly #agent: Agent;
  readonly #config: ShieldConfig["origin"];
  /** Slots per origin (scheme://host:port); origins come from the config, so few. */
  readonly #slots = new Map<string, Slots>();
  /** Connection resets seen on any origin socket so far (see the header comment). */
  #resets = 0;

  constructor(config: ShieldConfig["origin"]) {
    this.#config = config;
    const connector = buildConnector({ timeout: config.connectTimeoutMs });
    this.#agent = new Agent({
      // Every socket is watched for resets. This listener is added before undici's own,
      // so a reset is counted before undici ends the body it cut.
      connect: (options, callback) =>
        connector(options, (err, socket) => {
          socket?.on("error", (e: NodeJS.ErrnoException) => {
            if (e.code === "ECONNRESET") this.#resets++;
          });
          if (err !== null) callback(err, null);
          else callback(null, socket as NonNullable<typeof socket>);
        }),
      connections: config.connections,
      headersTimeout: config.headersTimeoutMs,
      bodyTimeout: config.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
    });
  }

  /** Requests waiting for a connection to `origin` (scheme://host:port). */
  waiting(origin: string): number {
    return this.#slots.get(origin)?.waiting ?? 0;
  }

  async request(req: OriginRequest): Promise<OriginResponse> {
    const url = new URL(req.url);
    const slot = await this.#acquire(url.origin);
    const settled = req.settled;
    let holding = true;
    const release: Release =
      settled === undefined
        ? slot
        : () => {
            slot();
            if (holding) {
              holding = false;
              settled();
            }
          };
    let res: Dispatcher.ResponseData;
    // Interim responses are relayed to this request's sink, and bounded in number and
    // time: a hostile origin's flood of them fails the fetch instead of holding it.
    const stopped = new AbortController();
    const watch = new InterimWatch(req.interim, this.#config.headersTimeoutMs, (e) =>
      stopped.abort(e),
    );
    try {
      res = await this.#agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: asReadable(req.body),
        signal:
          req.signal === undefined ? stopped.signal : AbortSignal.any([req.signal, stopped.signal]),
        onInfo: watch.onInfo,
      });
    } catch (err) {
      release();
      throw watch.error ?? classify(err);
    } finally {
      watch.done();
    }
    const body = res.body;
    const dispose = () => {
      release();
      if (body.destroyed) return;
      // undici's body emits RequestAbortedError when destroyed before its end; a body no
      // one iterates (a 304, a HEAD) has no 'error' listener, and that error would be
      // uncaught and take the process down.
      body.on("error", ignore);
      body.destroy();
    };
    const headers = nodeHeaderPairs(res.headers);
    const bad = headers.find(([n, v]) => !writableField(n, v));
    if (bad !== undefined) {
      dispose();
      throw new OriginError("invalid", `the origin sent a field that cannot be relayed: ${bad[0]}`);
    }
    const closeDelimited =
      req.method !== "HEAD" &&
      !NO_BODY.has(res.statusCode) &&
      res.statusCode >= 200 &&
      res.headers["content-length"] === undefined &&
      res.headers["transfer-encoding"] === undefined;
    const resetsAtHead = this.#resets;
    const whole = (): boolean => !closeDelimited || this.#resets === resetsAtHead;
    return {
      status: res.statusCode,
      headers,
      body: checked(body, whole, release),
      dispose,
    };
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  async #acquire(origin: string): Promise<Release> {
    let slots = this.#slots.get(origin);
    if (slots === undefined) {
      const c = this.#config;
      slots = new Slots(c.connections, c.maxQueue, c.queueTimeoutMs);
      this.#slots.set(origin, slots);
    }
    try {
      return await slots.acquire();
    } catch (err) {
      if (err instanceof SlotsBusy) throw new OriginError("busy", err.message, { cause: err });
      throw err;
    }
  }
}

function ignore(): void {}

function asReadable(body: AsyncIterable<Uint8Array> | null | undefined): Readable | null {
  if (body === null || body === undefined) return null;
  return body instanceof Readable ? body : Readable.from(body, { objectMode: false });
}

/**
 * The body as undici delivers it, errors classified, the connection's slot released when
 * it ends either way, and a close-delimited body that a reset may have cut refused.
 */
async function* checked(
  body: AsyncIterable<Buffer>,
  whole: () => boolean,
  release: Release,
): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    throw classify(err);
  } finally {
    release();
  }
  if (!whole()) {
    throw new OriginError("reset", "the connection was reset: a close-delimited body may be cut");
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
