/**
 * Entity tags of encoded copies (RFC 9110 §8.8.3). A strong tag names one sequence of
 * bytes, and each coding, and each brotli level, gives other bytes of the same content:
 * so each copy's tag is the origin's with the coding and level appended inside the quotes
 * ("abc" → "abc-br11", "abc-gz6"; a copy decoded from the origin's compressed body
 * "abc-id"). The fast copy made on a miss and the copy that replaces it are told apart
 * by level, so a client resuming a download with If-Range never splices the two.
 *
 * Clients send these tags back as they got them: a stored copy answers If-None-Match,
 * If-Match and If-Range against its own tag (respond.ts), and a stored copy is
 * revalidated against its source by the tag's prefix (coded-fill.ts).
 */
import type { ContentCoding } from "../../core/http/accept-encoding.ts";
import { formatETag, parseETag, parseETagList } from "../../core/http/etag.ts";
import type { HeaderPairs } from "../../core/policy/index.ts";

function suffix(coding: ContentCoding, level: number): string {
  if (coding === "br") return `-br${level}`;
  if (coding === "gzip") return `-gz${level}`;
  return "-id";
}

/** The tag of a copy in `coding` at `level` of a body tagged `source`; undefined without one. */
export function codedEtag(
  source: string | undefined,
  coding: ContentCoding,
  level: number,
): string | undefined {
  const parsed = parseETag(source);
  if (parsed === null) return undefined;
  return formatETag({ weak: parsed.weak, tag: `${parsed.tag}${suffix(coding, level)}` });
}

/**
 * Whether a revalidation's If-None-Match names a copy in `coding` (at any level) of the
 * body the source is tagged with now (weak comparison, RFC 9110 §13.1.2).
 */
export function namesCopyOf(
  conditional: HeaderPairs,
  source: string | undefined,
  coding: ContentCoding,
): boolean {
  const parsed = parseETag(source);
  if (parsed === null) return false;
  const prefix = `${parsed.tag}${coding === "identity" ? "-id" : coding === "br" ? "-br" : "-gz"}`;
  for (const [name, value] of conditional) {
    if (name !== "if-none-match") continue;
    const listed = parseETagList(value);
    if (listed === "*") return true;
    for (const one of listed) {
      if (one.tag.startsWith(prefix) && /^\d*$/.test(one.tag.slice(prefix.length))) return true;
    }
  }
  return false;
}
