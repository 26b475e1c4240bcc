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
