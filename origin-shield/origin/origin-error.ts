/**
 * Why an origin could not answer, classified once into the few kinds the cache acts on
 * (RFC 5861 §4 serves stale on any of them; the client sees 500, 502, 503 or 504).
 */
export type OriginFailure =
  | "timeout"
  | "connect"
  | "reset"
  | "too-large"
  | "aborted"
  /** Every connection to the origin was busy and the wait for one hit its bound. */
  | "busy"
  /** The response cannot be relayed as it is (a field Node's server refuses to write). */
  | "invalid"
  /** The shield itself failed while handling the response. */
  | "internal";

export class OriginError extends Error {
  readonly kind: OriginFailure;
  constructor(kind: OriginFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OriginError";
    this.kind = kind;
  }

  /** RFC 9110 §15.6: 504 when too slow, 503 when busy, 500 our own failure, else 502. */
  get status(): number {
    switch (this.kind) {
      case "timeout":
        return 504;
      case "busy":
        return 503;
      case "internal":
        return 500;
      default:
        return 502;
    }
  }
}

/**
 * Every server of an origin's pool is ejected by its breaker (pool.ts), so nothing was
 * sent: the client gets a 503 with Retry-After at once (RFC 9110
 * §15.6.4, §10.2.3) rather than a connect timeout per request, or a stale copy where
 * stale-if-error allows one (RFC 5861 §4): to the cache it is an origin that could not be
 * reached, which is what it is.
 */
export class OriginDown extends OriginError {
  /** Seconds until a server may take requests again (at least 1). */
  readonly retryAfter: number;

  constructor(origin: string, retryAfter: number) {
    super("connect", `every server of origin ${origin} is down`);
    this.name = "OriginDown";
    this.retryAfter = retryAfter;
  }

  override get status(): number {
    return 503;
  }
}

/** Codes (undici's, the socket's) of a connection cut before or during an answer. */
const CUT = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET"]);

function causeCode(err: OriginError): string | undefined {
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * For a failure of the origin client's request (so before a response head): the server
 * failed to answer, being refused or unreachable, cutting the connection or sending what
 * does not parse as HTTP, or too slow (connect or header timeout). Our own refusals
 * (busy, aborted) and errors in the request we sent are not the server's doing.
 */
export function serverFault(err: unknown): boolean {
  if (!(err instanceof OriginError) || err instanceof OriginDown) return false;
  if (err.kind === "connect" || err.kind === "timeout") return true;
  if (err.kind !== "reset") return false;
  const code = causeCode(err);
  return code !== undefined && (CUT.has(code) || code.startsWith("HPE_"));
}

/**
 * Failed before any byte of an answer arrived, and quickly: no connection (refused,
 * unreachable, connect timeout) or one cut before the answer began. Safe and cheap to
 * retry; a response that did not parse, or a header timeout, is neither.
 */
export function beforeAnswer(err: unknown): boolean {
  if (!(err instanceof OriginError) || err instanceof OriginDown) return false;
  const code = causeCode(err);
  if (err.kind === "connect") return true;
  if (err.kind === "timeout") return code === "UND_ERR_CONNECT_TIMEOUT";
  return err.kind === "reset" && code !== undefined && CUT.has(code);
}
