/**
 * The edge's signature on the requests it sends to a shield, so a shield reachable from
 * the internet can tell our Worker's requests from anyone else's. Both tiers run this
 * file: the Worker signs (workers/upstream/), the shield verifies (origin-shield/request/
 * edge-auth.ts), with WebCrypto, which Node and workerd both provide.
 *
 *   CDN-Edge-Signature: t=1767225600, sig=<base64url HMAC-SHA256, 43 characters>
 *
 * The HMAC covers a version label, the method, the request target as the shield receives
 * it (path and query), the X-Forwarded-Host the edge sends (the host the shield routes
 * and keys by) and the timestamp, one per line: none of them can hold a line break, so
 * no two requests share a message. It does not cover the body or other fields: a
 * signature says "our Worker sent this request for this URL and host, at this time".
 *
 * A signature is valid from its timestamp for `maxAgeSeconds` of the shield's clock, and
 * up to `maxSkewSeconds` before it (the shield's clock may be behind the edge's). Within
 * that window a captured request can be sent again; the window is what bounds replays
 * (the shield keeps no nonce store: see edge-auth.ts for why).
 */
import { decodeBase64, encodeBase64 } from "../http/sf/base64.ts";

/** The request field the signature travels in (lowercase, as headers are read). */
export const EDGE_SIGNATURE_FIELD = "cdn-edge-signature";

/** What a signature is computed over, besides its timestamp. */
export interface SignedRequest {
  readonly method: string;
  /** The request target, origin-form: path and query exactly as sent ("/a/b?c=1"). */
  readonly target: string;
  /** The X-Forwarded-Host sent with the request; null when none is sent. */
  readonly forwardedHost: string | null;
}

/** How long a signature stays valid on the shield's clock, seconds. */
export interface SignatureWindow {
  readonly maxAgeSeconds: number;
  readonly maxSkewSeconds: number;
}

/** A signature field taken apart: its timestamp (Unix seconds) and its MAC bytes. */
export interface ParsedSignature {
  readonly time: number;
  readonly mac: Uint8Array;
}

export type SignatureVerdict = "ok" | "missing" | "malformed" | "expired" | "future" | "bad";

/** WebCrypto's key type, named without the DOM library (the shield compiles against Node's). */
export type EdgeKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const VERSION = "cdn-edge-v1";
const encoder = new TextEncoder();

/** The exact text the HMAC is computed over. */
export function edgeSignedMessage(request: SignedRequest, time: number): string {
  return `${VERSION}\n${request.method}\n${request.target}\n${request.forwardedHost ?? ""}\n${time}`;
}

/** The HMAC key for a secret (import it once per secret: each import costs a few µs). */
export function edgeSigningKey(secret: string): Promise<EdgeKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

function base64url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The CDN-Edge-Signature value for a request sent at `time` (Unix seconds). */
export async function signEdgeRequest(
  key: EdgeKey,
  request: SignedRequest,
  time: number,
): Promise<string> {
  const data = encoder.encode(edgeSignedMessage(request, time));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  return `t=${time}, sig=${base64url(mac)}`;
}

/**
 * The field taken apart, or null when it is not exactly `t=<digits>, sig=<43 base64url
 * characters>` (spaces around the comma optional). Strict on purpose: there is one
 * writer, and anything else is not a signature.
 */
export function parseEdgeSignature(value: string): ParsedSignature | null {
  const match = /^t=(\d{1,12})[ \t]*,[ \t]*sig=([A-Za-z0-9_-]{43})$/.exec(value);
  if (match === null) return null;
  const mac = decodeBase64(`${match[2]!.replaceAll("-", "+").replaceAll("_", "/")}=`);
  // One spelling per MAC: the last character's two spare bits must be zero.
  if (mac === null || mac.length !== 32 || base64url(mac) !== match[2]) return null;
  return { time: Number(match[1]), mac };
}

/** Whether a timestamp is within its validity window at `now` (Unix seconds). */
export function signatureAge(
  time: number,
  now: number,
  window: SignatureWindow,
): "ok" | "expired" | "future" {
  if (time > now + window.maxSkewSeconds) return "future";
  if (time < now - window.maxAgeSeconds) return "expired";
  return "ok";
}

/** Whether the MAC is right for the request (compared in constant time by WebCrypto). */
export function edgeMacMatches(
  key: EdgeKey,
  parsed: ParsedSignature,
  request: SignedRequest,
): Promise<boolean> {
  const data = encoder.encode(edgeSignedMessage(request, parsed.time));
  return crypto.subtle.verify("HMAC", key, parsed.mac, data);
}

/**
 * The whole check of one field value: present, well formed, within its window at `now`
 * (Unix seconds), and signed with `key` over this request. The shield runs the same steps
 * with a memo between the window and the MAC (origin-shield/request/edge-auth.ts).
 */
export async function verifyEdgeSignature(
  key: EdgeKey,
  value: string | null | undefined,
  request: SignedRequest,
  now: number,
  window: SignatureWindow,
): Promise<SignatureVerdict> {
  if (value === null || value === undefined) return "missing";
  const parsed = parseEdgeSignature(value);
  if (parsed === null) return "malformed";
  const age = signatureAge(parsed.time, now, window);
  if (age !== "ok") return age;
  return (await edgeMacMatches(key, parsed, request)) ? "ok" : "bad";
}
