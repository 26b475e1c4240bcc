/**
 * Age (RFC 9111 §5.1): `Age = delta-seconds`.
 */
import { parseDeltaSeconds } from "./cache-control.ts";

/**
 * Returns the Age in seconds, or null when the field is absent or invalid.
 *
 * RFC 9111 §5.1: "a cache encountering a message with a list-based Age field value SHOULD use
 * the first member of the field value, discarding subsequent ones", and if that value "is
 * invalid (e.g., it contains something other than a non-negative integer), a cache SHOULD ignore
 * the field". Values beyond 2^31 clamp to 2147483648 (RFC 9111 §1.2.2).
 */
export function parseAge(value: string | null | undefined): number | null {
  if (!value) return null;
  const comma = value.indexOf(",");
  let start = 0;
  let end = comma === -1 ? value.length : comma;
  // Surrounding OWS (SP / HTAB) belongs to the list syntax, not to the member.
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) {
    start++;
  }
  while (
    end > start &&
    (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)
  ) {
    end--;
  }
  const n = parseDeltaSeconds(value, start, end);
  return n < 0 ? null : n;
}
