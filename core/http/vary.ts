/**
 * Vary (RFC 9110 §12.5.5): `Vary = #( "*" / field-name )`.
 */

// tchar (RFC 9110 §5.6.2), lowercase letters only since names are lowercased first.
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Returns the listed field names lowercased (field names are case-insensitive, RFC 9110 §5.1),
 * de-duplicated and SORTED, so two responses that vary on the same fields in a different order
 * or case produce the same list (and the same secondary cache key). Empty members are skipped
 * (RFC 9110 §5.6.1 list rule); absent or empty → [].
 *
 * Returns "*" when any member is `*` (RFC 9111 §4.1: always fails to match) and also when any
 * member is not a valid field-name: the cache cannot tell what the origin meant to vary on, so it
 * must not reuse the response for a different request (conservative), and such a name could not
 * be looked up in a Headers object anyway.
 */
export function parseVary(value: string | null | undefined): "*" | string[] {
  if (!value) return [];
  const out = new Set<string>();
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(",", start);
    if (end === -1) end = value.length;
    let a = start;
    let b = end;
    while (a < b && (value.charCodeAt(a) === 0x20 || value.charCodeAt(a) === 0x09)) a++;
    while (b > a && (value.charCodeAt(b - 1) === 0x20 || value.charCodeAt(b - 1) === 0x09)) b--;
    if (a < b) {
      const name = value.slice(a, b).toLowerCase();
      if (name === "*" || !FIELD_NAME.test(name)) return "*";
      out.add(name);
    }
    start = end + 1;
  }
  return [...out].sort();
}
