/**
 * Reading cookie values from a Cookie request header (RFC 6265 §5.4 serialises it as
 * `name=value; name2=value2`; §5.2 says to trim whitespace around name and value).
 *
 * When a name occurs more than once the first occurrence wins: §5.4 step 2 orders
 * cookies with longer paths (more specific) first, and that is also what most server
 * frameworks read. A pair without "=" has no name a config can list, so it is skipped.
 */

/** One pass over `header`, returning the value of each of `names` (null when absent). */
export function readCookies(
  header: string | null | undefined,
  names: readonly string[],
): (string | null)[] {
  const values: (string | null)[] = names.map(() => null);
  if (header == null || header === "" || names.length === 0) return values;
  let missing = names.length;
  const len = header.length;
  let start = 0;
  while (start < len && missing > 0) {
    let end = header.indexOf(";", start);
    if (end === -1) end = len;
    const eq = header.indexOf("=", start);
    if (eq !== -1 && eq < end) {
      const name = header.slice(start, eq).trim();
      const i = names.indexOf(name);
      if (i !== -1 && values[i] === null) {
        values[i] = header.slice(eq + 1, end).trim();
        missing--;
      }
    }
    start = end + 1;
  }
  return values;
}

/** Whether any of `names` is present in the Cookie header (for bypass cookies). */
export function hasAnyCookie(header: string | null | undefined, names: readonly string[]): boolean {
  if (header == null || names.length === 0) return false;
  return readCookies(header, names).some((v) => v !== null);
}
