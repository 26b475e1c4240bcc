/**
 * The metadata stored beside each body in the Workers Cache API, as one header value.
 *
 * The Cache API keeps a Response and expires it by its own Cache-Control; it knows
 * nothing of stale windows, Vary (it ignores it) or this cache's key. So the stored
 * Response is an opaque 200 whose Cache-Control says how long to keep it, and what the
 * policy needs — the real status, the origin's headers, the absolute lifetimes
 * (core/policy EntryMeta) and the full key — travels in this header, which the edge
 * reads and never sends on (workers/flow/respond.ts builds every client response from
 * the decoded metadata, not from the stored Response's headers).
 */
import type { EntryMeta } from "../../core/policy/index.ts";
import { asVaryRecord, type VaryRecord } from "./vary-record.ts";

/** The internal header. Only ever on Responses handed to the Cache API. */
export const META_HEADER = "x-edge-meta";

/** Bigger metadata is not stored: a header this size is an origin bloating its fields. */
export const MAX_META_BYTES = 32 * 1024;

interface Record {
  readonly v: 1;
  readonly key: string;
  readonly meta: EntryMeta;
}

/** What a storage name holds: a response, or the vary record of a key (./vary-record.ts). */
export type Stored =
  | { readonly kind: "entry"; readonly key: string; readonly meta: EntryMeta }
  | { readonly kind: "vary"; readonly key: string; readonly record: VaryRecord };

/**
 * JSON with every non-ASCII character escaped (`\u00e9`): a header value is a
 * ByteString, and JSON's own escapes keep the text exact. Null when too large.
 */
export function encodeMeta(key: string, meta: EntryMeta): string | null {
  return encode({ v: 1, key, meta });
}

/** A key's vary record, in the same header; null when too large. */
export function encodeVaryRecord(key: string, record: VaryRecord): string | null {
  return encode({ v: 1, key, record });
}

function encode(value: object): string | null {
  const json = JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return json.length > MAX_META_BYTES ? null : json;
}

const NUMBERS = [
  "status",
  "requestTime",
  "responseTime",
  "initialAge",
  "freshnessLifetime",
  "freshUntil",
  "staleWhileRevalidateUntil",
  "staleIfErrorUntil",
  "deleteAt",
] as const;

/**
 * The key and metadata, or null when the value is missing or not ours (an entry written
 * by an older version of the edge, or damaged): such an entry is treated as a miss.
 */
export function decodeMeta(value: string | null): { key: string; meta: EntryMeta } | null {
  const stored = decodeStored(value);
  return stored?.kind === "entry" ? { key: stored.key, meta: stored.meta } : null;
}

/** A response's metadata or a vary record; null when the value is neither. */
export function decodeStored(value: string | null): Stored | null {
  if (value === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const r = parsed as Partial<Record> & { record?: unknown };
  if (r.v !== 1 || typeof r.key !== "string") return null;
  if (r.record !== undefined) {
    const record = asVaryRecord(r.record);
    return record === null ? null : { kind: "vary", key: r.key, record };
  }
  if (typeof r.meta !== "object" || r.meta === null) return null;
  const meta = r.meta as unknown as { [k: string]: unknown };
  for (const k of NUMBERS) if (typeof meta[k] !== "number") return null;
  if (!Array.isArray(meta.headers)) return null;
  return { kind: "entry", key: r.key, meta: r.meta };
}
