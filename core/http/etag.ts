/**
 * Entity tags (RFC 9110 §8.8.3) and the If-Match / If-None-Match lists (§13.1.1, §13.1.2).
 *
 *   entity-tag = [ weak ] opaque-tag     weak = %s"W/"
 *   opaque-tag = DQUOTE *etagc DQUOTE    etagc = %x21 / %x23-7E / obs-text
 *
 * Parsing is strict: an unquoted tag or a lowercase "w/" is not an entity tag. A comma is a
 * valid etagc, so list members are split by scanning quotes, not by splitting on ",".
 */

export interface EntityTag {
  weak: boolean;
  /** the opaque-tag without its quotes */
  tag: string;
}

const isOWS = (c: number) => c === 0x20 || c === 0x09;
const isEtagc = (c: number) => c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);

/** Parses one entity-tag at `i`, or returns null; on success `scan.end` is the index after it. */
function parseAt(s: string, i: number, scan: { end: number }): EntityTag | null {
  let weak = false;
  if (s.charCodeAt(i) === 0x57 && s.charCodeAt(i + 1) === 0x2f) {
    weak = true;
    i += 2;
  }
  if (s.charCodeAt(i) !== 0x22) return null;
  const start = ++i;
  while (i < s.length && s.charCodeAt(i) !== 0x22) {
    if (!isEtagc(s.charCodeAt(i))) return null;
    i++;
  }
  if (i >= s.length) return null; // unterminated
  scan.end = i + 1;
  return { weak, tag: s.slice(start, i) };
}

/** One entity-tag, as in an ETag field (RFC 9110 §8.8.3); null when invalid or absent. */
export function parseETag(value: string | null | undefined): EntityTag | null {
  if (!value) return null;
  let i = 0;
  while (i < value.length && isOWS(value.charCodeAt(i))) i++;
  const scan = { end: 0 };
  const tag = parseAt(value, i, scan);
  if (tag === null) return null;
  for (let k = scan.end; k < value.length; k++) if (!isOWS(value.charCodeAt(k))) return null;
  return tag;
}

/**
 * If-Match / If-None-Match: `"*" / #entity-tag`. Returns "*" only when the whole value is `*`;
 * invalid members (including a `*` mixed with tags) are skipped; absent or empty → [].
 */
export function parseETagList(value: string | null | undefined): "*" | EntityTag[] {
  const out: EntityTag[] = [];
  if (!value) return out;
  const s = value;
  const n = s.length;
  let i = 0;
  while (i < n && isOWS(s.charCodeAt(i))) i++;
  if (s.charCodeAt(i) === 0x2a) {
    let k = i + 1;
    while (k < n && isOWS(s.charCodeAt(k))) k++;
    if (k === n) return "*";
  }
  const scan = { end: 0 };
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isOWS(c) || c === 0x2c) {
      i++;
      continue;
    }
    const tag = parseAt(s, i, scan);
    if (tag !== null) {
      let k = scan.end;
      while (k < n && isOWS(s.charCodeAt(k))) k++;
      if (k === n || s.charCodeAt(k) === 0x2c) {
        out.push(tag);
        i = k;
        continue;
      }
    }
    // Invalid member: skip to the next comma that is outside a quoted opaque-tag.
    let quoted = false;
    while (i < n) {
      const ch = s.charCodeAt(i);
      if (ch === 0x22) quoted = !quoted;
      else if (ch === 0x2c && !quoted) break;
      i++;
    }
  }
  return out;
}

/** RFC 9110 §8.8.3.2: strong comparison: both strong and the opaque-tags identical. */
export function strongMatch(first: EntityTag, second: EntityTag): boolean {
  return !first.weak && !second.weak && first.tag === second.tag;
}

/** RFC 9110 §8.8.3.2: weak comparison: the opaque-tags identical, weakness ignored. */
export function weakMatch(first: EntityTag, second: EntityTag): boolean {
  return first.tag === second.tag;
}

export function formatETag(etag: EntityTag): string {
  return `${etag.weak ? "W/" : ""}"${etag.tag}"`;
}
