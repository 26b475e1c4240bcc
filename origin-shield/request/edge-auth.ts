/**
 * The shield's check that a proxy request comes from our edge Worker: with a secret
 * configured (shield.edgeAuth, or SHIELD_EDGE_SECRET), every request that is not for the
 * admin endpoints must carry a valid CDN-Edge-Signature (core/auth/edge-signature.ts), or
 * it gets 403 before it is routed, looked up or fetched:
 *
 *   edge_signature_required  no signature
 *   edge_signature_expired   older than maxAgeSeconds, or dated more than maxSkewSeconds
 *                            ahead of this node's clock
 *   bad_edge_signature       malformed, repeated, or not made with the secret over this
 *                            method, target and X-Forwarded-Host
 *
 * So X-Forwarded-Host (which routes and keys) and X-Forwarded-For (believed from
 * shield.trustedProxies) are only ever read from requests the edge signed.
 *
 * Cost on the hit path. WebCrypto's HMAC runs on Node's thread pool, about 30 µs of CPU
 * a call, more than a whole hit. A request that the edge signs is signed with a time in
 * whole seconds, so every request for one URL the edge sends within a second (from any
 * isolate, in any colo: they share the secret) carries the same field; a memo of the
 * fields already verified, each with the method, host and target it was verified for,
 * answers those with one map lookup, three string comparisons and no promise (an HMAC
 * binds a field to one request, so a field is its own key). The memo keeps each entry's
 * time, and the window is checked on every request, memo or not: a replay after expiry
 * is refused however often it was accepted before. Bounded in bytes, least recently used
 * forgotten first.
 *
 * Replays within the window are accepted: the window is what bounds them. Refusing them
 * would take a store of every signature seen in the last maxAgeSeconds, per node (a
 * request replayed to another node would still pass) or shared through Redis (a round
 * trip on every hit, and every request refused while Redis is down). A replay can only
 * repeat a request the edge made, for the same URL and host; run the hop over HTTPS so
 * requests cannot be captured on the way.
 */
import { LRUCache } from "lru-cache";
import {
  EDGE_SIGNATURE_FIELD,
  type EdgeKey,
  edgeMacMatches,
  edgeSigningKey,
  type ParsedSignature,
  parseEdgeSignature,
  type SignatureWindow,
  type SignedRequest,
  signatureAge,
} from "../../core/auth/edge-signature.ts";
import type { NodeHeaders } from "../http/headers.ts";
import { rejection } from "../rejection.ts";
import type { ShieldResponse } from "../respond.ts";
import type { ShieldRequest } from "../types.ts";

export interface EdgeAuthConfig extends SignatureWindow {
  readonly secret: string;
}

/** A field value verified, and for what. */
interface Verified {
  readonly method: string;
  readonly host: string | null;
  readonly target: string;
  /** The signature's time, Unix seconds. */
  readonly time: number;
}

/** Bytes of verified requests remembered. */
const MEMO_BYTES = 2 * 1024 * 1024;
/** What one remembered request costs beyond its strings' characters. */
const MEMO_OVERHEAD = 160;
/** Longest target remembered, characters: a far longer one is verified each time. */
const MEMO_MAX_TARGET = 2_048;

type Handler = (req: ShieldRequest) => ShieldResponse | Promise<ShieldResponse>;

export class EdgeGate {
  readonly #window: SignatureWindow;
  readonly #now: () => number;
  readonly #cache: string;
  readonly #verified: LRUCache<string, Verified>;
  readonly #key: Promise<EdgeKey>;

  /** `now`: the node's clock, ms; `cache`: this node's Cache-Status name. */
  constructor(config: EdgeAuthConfig, now: () => number, cache: string) {
    this.#window = config;
    this.#now = now;
    this.#cache = cache;
    this.#key = edgeSigningKey(config.secret);
    this.#verified = new LRUCache<string, Verified>({
      maxSize: MEMO_BYTES,
      sizeCalculation: (verified, value) =>
        MEMO_OVERHEAD + 2 * (value.length + verified.target.length + (verified.host?.length ?? 0)),
    });
  }

  get bytes(): number {
    return this.#verified.calculatedSize;
  }

  get maxBytes(): number {
    return MEMO_BYTES;
  }

  /**
   * Null when the request carries a valid signature, else the 403 to answer. At once
   * (no promise) for a refusal decided by the field alone and for a request already
   * verified within its window; a promise when the HMAC must be computed.
   */
  check(req: ShieldRequest): ShieldResponse | null | Promise<ShieldResponse | null> {
    const headers = req.headers;
    const value = Object.hasOwn(headers, EDGE_SIGNATURE_FIELD)
      ? headers[EDGE_SIGNATURE_FIELD]
      : undefined;
    if (value === undefined) {
      return this.#refuse("edge_signature_required", "this shield answers the edge only");
    }
    if (typeof value !== "string") return this.#refuse("bad_edge_signature", "repeated field");
    const host = forwardedHost(headers);
    const known = this.#verified.get(value);
    if (
      known !== undefined &&
      known.target === req.target &&
      known.method === req.method &&
      known.host === host
    ) {
      return this.#tooOld(known.time);
    }
    const parsed = parseEdgeSignature(value);
    if (parsed === null) return this.#refuse("bad_edge_signature", "malformed signature");
    const old = this.#tooOld(parsed.time);
    if (old !== null) return old;
    const request = { method: req.method, target: req.target, forwardedHost: host };
    return this.#verify(value, parsed, request);
  }

  async #verify(
    value: string,
    parsed: ParsedSignature,
    request: SignedRequest,
  ): Promise<ShieldResponse | null> {
    if (!(await edgeMacMatches(await this.#key, parsed, request))) {
      return this.#refuse("bad_edge_signature", "the signature does not match this request");
    }
    const { method, target, forwardedHost: host } = request;
    if (target.length <= MEMO_MAX_TARGET) {
      this.#verified.set(value, { method, host, target, time: parsed.time });
    }
    return null;
  }

  /** The refusal for a signature time outside the window now, or null. */
  #tooOld(time: number): ShieldResponse | null {
    const age = signatureAge(time, Math.floor(this.#now() / 1000), this.#window);
    if (age === "ok") return null;
    return age === "expired"
      ? this.#refuse("edge_signature_expired", "the signature has expired")
      : this.#refuse("edge_signature_expired", "the signature is dated ahead of this node's clock");
  }

  #refuse(code: string, message: string): ShieldResponse {
    return rejection(this.#cache, { status: 403, code, message });
  }
}

/** The X-Forwarded-Host as the edge sent it (one field; repeated ones joined). */
function forwardedHost(headers: NodeHeaders): string | null {
  const value = Object.hasOwn(headers, "x-forwarded-host")
    ? headers["x-forwarded-host"]
    : undefined;
  if (value === undefined) return null;
  return typeof value === "string" ? value : value.join(", ");
}

/** `handle` behind the gate: a request without a valid signature gets the gate's 403. */
export function behindGate(gate: EdgeGate, handle: Handler): Handler {
  return (req) => {
    const refused = gate.check(req);
    if (refused === null) return handle(req);
    if (refused instanceof Promise) return refused.then((answer) => answer ?? handle(req));
    return refused;
  };
}
