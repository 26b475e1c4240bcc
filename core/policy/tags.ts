import type { HeaderReader } from "./types.ts";

/** Bounds on purge tags taken from one response, so a hostile origin cannot bloat entries. */
export const MAX_TAGS = 128;
export const MAX_TAG_LENGTH = 1024;

/**
 * Purge tags of a response: `Surrogate-Key` (space-separated, Fastly's convention) and
 * `Cache-Tag` (comma-separated, Cloudflare's). Tags are compared exactly, de-duplicated,
 * and bounded by MAX_TAGS / MAX_TAG_LENGTH (longer tags are dropped, not truncated, so
 * a purge never hits a tag that was not sent).
 */
export function responseTags(headers: HeaderReader): string[] {
  const out = new Set<string>();
  const add = (raw: string | null, separator: RegExp): void => {
    if (raw === null) return;
    for (const part of raw.split(separator)) {
      if (out.size >= MAX_TAGS) return;
      const tag = part.trim();
      if (tag !== "" && tag.length <= MAX_TAG_LENGTH) out.add(tag);
    }
  };
  add(headers.get("surrogate-key"), /[ \t]+/);
  add(headers.get("cache-tag"), /,/);
  return [...out];
}
