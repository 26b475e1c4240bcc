/**
 * The content coding the edge asks the shield for and keys a varying response by: the
 * client's Accept-Encoding reduced by core `preferredCoding` to br, gzip or identity,
 * the same reduction the shield makes, so a variant is one of three whatever a client
 * writes.
 *
 * Which Accept-Encoding is the client's: the Workers runtime shows the Worker its own
 * value (`br, gzip`, whatever the client sent, in workerd and under wrangler dev) and
 * keeps the client's in `request.cf.clientAcceptEncoding`; it then re-codes the Worker's
 * response into a coding the client accepts, decoding for a client that takes none.
 * Keying by the runtime's value would fetch and store only br; keying by the client's
 * gives each client the coding it asked for, which the runtime passes on untouched.
 * Where the runtime does not set it (a request made inside the Worker, tests), the
 * header is the client's own.
 */
import { type ContentCoding, preferredCoding } from "../../core/http/index.ts";

/** The Accept-Encoding the client itself sent, as far as the runtime tells. */
export function clientAcceptEncoding(request: Request): string | null {
  const cf = (request as { cf?: { clientAcceptEncoding?: unknown } }).cf;
  const original = cf?.clientAcceptEncoding;
  return typeof original === "string" ? original : request.headers.get("accept-encoding");
}

/** The coding this client gets: br, gzip or identity (core preferredCoding). */
export function clientCoding(request: Request): ContentCoding {
  return preferredCoding(clientAcceptEncoding(request));
}

/**
 * Whether a client takes `coding` and no other coding the runtime could re-code it into
 * (br and gzip): only then does a part of a body in that coding reach it untouched. A
 * fragment of a coded body cannot be re-coded; the runtime that tries sends an empty or
 * broken body.
 */
export function acceptsOnly(value: string | null, coding: "br" | "gzip"): boolean {
  if (value === null) return false;
  const other = coding === "br" ? "gzip" : "br";
  return preferredCoding(value) === coding && !acceptsCoding(value, other);
}

/** Whether `value` gives `coding` (or `*` covering it) a weight above 0. */
function acceptsCoding(value: string, coding: string): boolean {
  let listed: boolean | null = null;
  let star = false;
  for (const member of value.split(",").slice(0, 64)) {
    const [rawName = "", ...params] = member.split(";");
    const name = rawName.trim().toLowerCase();
    const q = params.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/i.exec(p)?.[1]).find((x) => x);
    const weight = q === undefined ? 1 : Number(q);
    const accepted = Number.isFinite(weight) && weight > 0;
    const named = name === coding || (coding === "gzip" && name === "x-gzip");
    if (named) listed = (listed ?? false) || accepted;
    else if (name === "*") star = accepted;
  }
  return listed ?? star;
}
