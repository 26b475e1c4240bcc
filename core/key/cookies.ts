/**
 * Reading cookie values from a Cookie request header (RFC 6265 §5.4 serialises it as
 * `name=value; name2=value2`; §5.2 says to trim whitespace around name and value).
 *
 * When a name occurs more than once, frameworks disagree on which one counts: Express's
 * `cookie`, Go and PHP read the first (RFC 6265 §5.4 puts the most specific path first),
 * Python's `http.cookies` and so Django read the last. A key that held only one of them
 * would let two requests the origin tells apart share a response, so a repeated name
 * contributes every value, in order. A pair without "=" has no name a config can list,
 * so it is skipped.
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

/**
 * The value of each of `names` in `header`: null when absent, a string when it occurs
 * once, every value in order when it occurs more than once.
 */
export function readCookies(
  header: string | null | undefined,
  names: readonly string[],
): (string | string[] | null)[] {
  const values: (string | string[] | null)[] = names.map(() => null);
  if (header == null || header === "" || names.length === 0) return values;
  eachCookie(header, (name, valueStart, end) => {
    const i = names.indexOf(name);
    if (i === -1) return false;
    const value = header.slice(valueStart, end).trim();
    const seen = values[i] ?? null;
    values[i] = seen === null ? value : typeof seen === "string" ? [seen, value] : [...seen, value];
    return false;
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
