/**
 * Purge tags for the edge's Cache API entries.
 *
 * The edge stores every response under a synthetic URL (its storage name), so
 * Cloudflare's purge by URL and by prefix never match it. What does reach a Cache API
 * entry from outside is purge by tag: the Cache-Tag field of the Response handed to
 * `cache.put` is kept with the entry
 * (https://developers.cloudflare.com/workers/reference/how-the-cache-works/#purge-assets-stored-with-the-cache-api).
 * So each entry carries, besides the origin's own tags:
 *
 * - a URL tag, from the normalised URL (core/key normaliseUrl `.url`). Everything that
 *   selects one variant of a URL (image format, Accept-Encoding, keyed headers and
 *   cookies) lives in the cache key, not in that URL, so every variant carries the same
 *   URL tag and one tag purges them all;
 * - directory tags: the host, and the host with each leading path directory down to
 *   PREFIX_TAG_DEPTH directories, so a purge of a prefix that ends at a "/" is one tag.
 *   They leave out the scheme, as Cloudflare's own prefix purge does, so a prefix purge
 *   reaches the http and https copies alike (an over-reach costs one refill).
 *
 * Both are SHA-256 (core/key/hash.ts, synchronous, the same in Node and workerd) of the
 * text, cut to HASH_HEX_DIGITS lowercase hex digits behind a fixed name: whatever a URL
 * holds (commas, spaces, non-ASCII, 8 KiB of path), the tag is short, printable ASCII,
 * comma-free and the same whatever case Cloudflare folds it to. 128 bits leave a
 * collision out of reach, and one would only purge an extra entry.
 *
 * Cloudflare's rules for Cache-Tag
 * (https://developers.cloudflare.com/cache/how-to/purge-cache/purge-by-tags/): tags are
 * comma-separated, printable ASCII without spaces, compared case-insensitively; the
 * field may hold at most 16 KB after its name (commas included), about 1,000 tags; a
 * tag named in a purge call may be at most 1,024 characters.
 */
import { sha256Hex } from "../key/hash.ts";

/**
 * Longest Cache-Tag value written, in characters (all ASCII, so bytes too). Cloudflare
 * says 16 KB; 16,000 is within that whether a KB is 1,000 or 1,024 bytes.
 */
export const MAX_CACHE_TAG_CHARS = 16_000;
/** Most tags one entry carries (the older Cloudflare article's "1000 unique tags"). */
export const MAX_CACHE_TAGS = 1_000;
/** Longest tag a purge call may name; a longer one could never be purged, so is not written. */
export const MAX_TAG_CHARS = 1_024;
/** Directories below the host that get a tag: "/a/b/…/h/" at most. */
export const PREFIX_TAG_DEPTH = 8;
/** Cloudflare's limit on "/" in a purge prefix (purge_by_prefix, Limitations). */
export const MAX_PREFIX_SEPARATORS = 31;

const URL_TAG = "edge-url:";
const DIRECTORY_TAG = "edge-dir:";
const HASH_HEX_DIGITS = 32;

/** Whether Cloudflare takes `tag` as one cache tag: 1..1024 printable ASCII, no comma. */
export function isCloudflareTag(tag: string): boolean {
  if (tag.length === 0 || tag.length > MAX_TAG_CHARS) return false;
  for (let at = 0; at < tag.length; at++) {
    const code = tag.charCodeAt(at);
    // 0x21..0x7e is printable ASCII without the space; 0x2c is the separator.
    if (code < 0x21 || code > 0x7e || code === 0x2c) return false;
  }
  return true;
}

/** The tag every edge entry stored for this normalised URL carries, whatever its variant. */
export function urlPurgeTag(url: string): string {
  return URL_TAG + sha256Hex(url).slice(0, HASH_HEX_DIGITS);
}

/**
 * The tag that purges every entry whose normalised URL starts with `prefix`, or null
 * when no single tag can: the prefix does not end at a "/" of the path (a query, part
 * of a name), has no path, or is deeper than PREFIX_TAG_DEPTH directories.
 */
export function prefixPurgeTag(prefix: string): string | null {
  const parts = splitUrl(prefix);
  if (parts === null || parts.rest !== "" || !parts.path.endsWith("/")) return null;
  if (depthOf(parts.path) > PREFIX_TAG_DEPTH) return null;
  return directoryTag(parts.host, parts.path);
}

/**
 * The tag of the deepest tagged directory that holds every URL starting with `prefix`:
 * the prefix's own tag when it has one, otherwise a wider one (the directory it ends
 * in, cut to PREFIX_TAG_DEPTH). Null when not even the host is certain (no path).
 * Purging it may take more than the prefix asked for, never less.
 */
export function coveringPrefixTag(prefix: string): string | null {
  const parts = splitUrl(prefix);
  if (parts === null || parts.path === "") return null;
  let directory = parts.path.slice(0, parts.path.lastIndexOf("/") + 1);
  let slashes = 0;
  for (let at = 0; at < directory.length; at++) {
    if (directory.charCodeAt(at) === 0x2f && ++slashes === PREFIX_TAG_DEPTH + 1) {
      directory = directory.slice(0, at + 1);
      break;
    }
  }
  return directoryTag(parts.host, directory);
}

/**
 * The Cache-Tag list of an edge entry: the origin's tags first (those Cloudflare takes),
 * then the URL tag of each of `urls` (the entry's own URL first, then any other URL whose
 * purge must reach it), then their directory tags; de-duplicated ignoring case, as
 * Cloudflare compares them. Whatever would take the field past MAX_CACHE_TAG_CHARS or
 * MAX_CACHE_TAGS is left out, in that order, so the same inputs always give the same list.
 */
export function edgeEntryTags(
  urls: string | readonly string[],
  originTags: readonly string[],
): string[] {
  const list = typeof urls === "string" ? [urls] : urls;
  const out: string[] = [];
  const seen = new Set<string>();
  let chars = 0;
  const add = (tag: string): void => {
    if (out.length >= MAX_CACHE_TAGS || !isCloudflareTag(tag)) return;
    const folded = tag.toLowerCase();
    if (seen.has(folded)) return;
    const cost = tag.length + (out.length === 0 ? 0 : 1);
    if (chars + cost > MAX_CACHE_TAG_CHARS) return;
    seen.add(folded);
    out.push(tag);
    chars += cost;
  };
  for (const tag of originTags) add(tag);
  for (const url of list) add(urlPurgeTag(url));
  for (const url of list) for (const tag of directoryTags(url)) add(tag);
  return out;
}

/**
 * A purge prefix as Cloudflare's prefix purge takes it
 * (https://developers.cloudflare.com/cache/how-to/purge-cache/purge_by_prefix/): host
 * and path without the scheme, with no query or fragment, and at most 31 path
 * separators. A prefix outside those rules is widened until it fits (its query dropped,
 * its path cut at the 31st "/"), so the purge takes more, never less. Null when the
 * prefix names no host.
 */
export function cloudflarePrefix(prefix: string): string | null {
  const parts = splitUrl(prefix);
  if (parts === null) return null;
  let text = parts.host + parts.path;
  let slashes = 0;
  for (let at = 0; at < text.length; at++) {
    if (text.charCodeAt(at) === 0x2f && ++slashes > MAX_PREFIX_SEPARATORS) {
      text = text.slice(0, at);
      break;
    }
  }
  return text;
}

/** Tags of the host and of each leading directory of a URL's path, shallowest first. */
function directoryTags(url: string): string[] {
  const parts = splitUrl(url);
  if (parts === null) return [];
  const path = parts.path === "" ? "/" : parts.path;
  const out: string[] = [];
  for (let at = path.indexOf("/"); at !== -1 && out.length <= PREFIX_TAG_DEPTH; ) {
    out.push(directoryTag(parts.host, path.slice(0, at + 1)));
    at = path.indexOf("/", at + 1);
  }
  return out;
}

function directoryTag(host: string, directory: string): string {
  return DIRECTORY_TAG + sha256Hex(`${host}${directory}`).slice(0, HASH_HEX_DIGITS);
}

/** Directories below the root: "/" is 0, "/a/" is 1. */
function depthOf(directory: string): number {
  let slashes = 0;
  for (let at = 0; at < directory.length; at++) if (directory.charCodeAt(at) === 0x2f) slashes++;
  return slashes - 1;
}

interface UrlParts {
  /** The authority as written (normalised URLs have it lowercase, default port dropped). */
  readonly host: string;
  /** From the first "/" after the host up to "?" or "#"; "" when there is none. */
  readonly path: string;
  /** "?…" or "#…", "" when none. */
  readonly rest: string;
}

/**
 * A normalised absolute URL (or prefix of one) split as text: `scheme://host/path?query`.
 * Text, not the URL parser: a prefix is not always a URL ("https://a/b/c%2"), and what
 * matters is which stored URLs start with it, character for character.
 */
function splitUrl(url: string): UrlParts | null {
  const schemeEnd = url.indexOf("://");
  if (schemeEnd <= 0) return null;
  const from = schemeEnd + 3;
  let hostEnd = from;
  while (hostEnd < url.length) {
    const code = url.charCodeAt(hostEnd);
    if (code === 0x2f || code === 0x3f || code === 0x23) break; // "/", "?", "#"
    hostEnd++;
  }
  if (hostEnd === from) return null;
  const host = url.slice(from, hostEnd);
  if (url.charCodeAt(hostEnd) !== 0x2f) return { host, path: "", rest: url.slice(hostEnd) };
  let pathEnd = hostEnd;
  while (pathEnd < url.length) {
    const code = url.charCodeAt(pathEnd);
    if (code === 0x3f || code === 0x23) break;
    pathEnd++;
  }
  return { host, path: url.slice(hostEnd, pathEnd), rest: url.slice(pathEnd) };
}
