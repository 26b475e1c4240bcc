/**
 * A range request that misses (RFC 9110 §14): the fill fetches the whole response (it
 * sends the origin no Range, origin/forward.ts), stores it, and every client waiting on
 * it, leader or follower, is sent the range it asked for, cut from the body as the bytes
 * arrive. A herd asking for different ranges of one cold object costs one origin fetch.
 *
 * The rules are the hit's (http/range.ts: one range, If-Range, 416 past the end). The
 * part is cut from the response's declared length; a body streamed without one is sent
 * whole, as a 200 (a server may ignore Range, §14.2), and the next request for a range
 * of it is a hit, served a 206 from the stored copy.
 */
import type { HeaderReader } from "../../core/policy/index.ts";
import { selectRange } from "../http/range.ts";
import { sliceStream } from "../http/range-stream.ts";
import type { ClientRequest, ShieldResponse } from "../respond.ts";

export function rangeFromFill(client: ClientRequest, answer: ShieldResponse): ShieldResponse {
  const r = answer;
  if (client.method !== "GET" || r.status !== 200 || r.body === null) return r;
  const range = client.headers.get("range");
  if (range === null) return r;
  const fields = flatReader(r.headers);
  const size = Buffer.isBuffer(r.body) ? r.body.length : declaredLength(fields);
  if (size === null) return r;
  const chosen = selectRange(range, client.headers.get("if-range"), size, fields);
  if (chosen.kind === "full") return r;
  if (chosen.kind === "unsatisfiable") {
    if (!Buffer.isBuffer(r.body)) r.body.close();
    const headers = without(r.headers, "content-length");
    headers.push("content-length", "0", "content-range", `bytes */${size}`);
    return { ...r, status: 416, headers, body: null };
  }
  const { start, end } = chosen;
  const headers = without(r.headers, "content-length");
  headers.push(
    "content-length",
    String(end - start + 1),
    "content-range",
    `bytes ${start}-${end}/${size}`,
  );
  const body = Buffer.isBuffer(r.body)
    ? r.body.subarray(start, end + 1)
    : sliceStream(r.body, start, end);
  return { ...r, status: 206, headers, body };
}

/** A reader over a flat [name, value, …] list of lowercase names. */
function flatReader(flat: readonly string[]): HeaderReader {
  return {
    get(name) {
      let found: string | null = null;
      for (let i = 0; i < flat.length; i += 2) {
        if (flat[i] === name) {
          const v = flat[i + 1] as string;
          found = found === null ? v : `${found}, ${v}`;
        }
      }
      return found;
    },
  };
}

function declaredLength(fields: HeaderReader): number | null {
  const value = fields.get("content-length");
  if (value === null || !/^\d{1,15}$/.test(value.trim())) return null;
  return Number(value.trim());
}

function without(flat: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] !== name) out.push(flat[i] as string, flat[i + 1] as string);
  }
  return out;
}
