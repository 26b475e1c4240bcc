/**
 * Interim responses written to a node:http client (RFC 9110 §15.2): a 103 Early Hints
 * with the origin's Link fields (RFC 8297), or a 102 Processing, before the final head.
 *
 * Only for the request whose fetch received them (origin/interim.ts), at most
 * MAX_INTERIM_FORWARDED per request, never once the final head is written, and never to
 * an HTTP/1.0 client, which cannot tell an interim response from a final one (§15.2).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HeaderPairs } from "../../core/policy/index.ts";
import type { InterimSink } from "../types.ts";

/** Interim responses one client request is sent; later ones are dropped. */
export const MAX_INTERIM_FORWARDED = 10;

export function interimWriter(req: IncomingMessage, res: ServerResponse): InterimSink | undefined {
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) {
    return undefined;
  }
  let sent = 0;
  return (status, headers) => {
    if (sent >= MAX_INTERIM_FORWARDED || res.headersSent || res.destroyed) return;
    if (status === 102) {
      sent++;
      res.writeProcessing();
      return;
    }
    if (status !== 103) return;
    const link = links(headers);
    // Node writes no 103 without a Link field; one without is of no use to a client.
    if (link.length === 0) return;
    sent++;
    try {
      res.writeEarlyHints({ link });
    } catch {
      // A Link value Node will not write (its own syntax check): this hint is dropped.
    }
  };
}

function links(headers: HeaderPairs): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) if (name === "link") out.push(value);
  return out;
}
