/**
 * Reading cookie values from a Cookie request header (RFC 6265 §5.4 serialises it as
 * `name=value; name2=value2`; §5.2 says to trim whitespace around name and value).
 *
 * When a name occurs more than once the first occurrence wins: §5.4 step 2 orders
 * cookies with longer paths (more specific) first, and that is also what most server
 * frameworks read. A pair without "=" has no name a config can list, so it is skipped.
 */

/**
 * Calls `visit(name, valueStart, end)` for each `name=value` pair in order, until it
 * returns true. One pass, linear in the header: "=" is looked for only inside the pair.
 */
function eachCookie(
  header: string,
  visit: (name: string, valueStart: number, end: number) => boolean,
): void {
  const len = header.length;
  let start = 0;
  while (start < len) {
    let end = header.indexOf(";", start);
    if (end === -1) end = len;
    let eq = start;
    while (eq < end && header.charCodeAt(eq) !== 0x3d) eq++;
    if (eq < end && visit(header.slice(start, eq).trim(), eq + 1, end)) return;
    start = end + 1;
  }
}

/** The value of each of `names` in `header` (null when absent). */
export function readCookies(
  header: string | null | undefined,
  names: readonly string[],
): (string | null)[] {
  const values: (string | null)[] = names.map(() => null);
  if (header == null || header === "" || names.length === 0) return values;
  let missing = names.length;
  eachCookie(header, (name, valueStart, end) => {
    const i = names.indexOf(name);
    if (i !== -1 && values[i] === null) {
      values[i] = header.slice(valueStart, end).trim();
      missing--;
    }
    return missing === 0;
  });
  return values;
}

/**
 * Whether any cookie matching `patterns` is present (for bypass cookies): a pattern is a
 * name, or "prefix*" for every name that starts with prefix.
 */
export function hasAnyCookie(
  header: string | null | undefined,
  patterns: readonly string[],
): boolean {
  if (header == null || header === "" || patterns.length === 0) return false;
  let found = false;
  eachCookie(header, (name) => {
    for (const p of patterns) {
      if (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p) found = true;
    }
    return found;
  });
  return found;
}
