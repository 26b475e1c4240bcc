import { hexValue } from "./percent-encoding.ts";

/**
 * A fast path around `new URL()` for the URLs a cache sees on every request: the
 * runtime's own `Request.url`, already serialised by the WHATWG URL parser. When the
 * string is provably in that serialised form, splitting it into its parts *is* the
 * parse; anything else (upper case, a default port, dot segments, backslashes, IDNs,
 * odd IPv4 forms, characters the parser would percent-encode, a fragment, …) goes
 * through `new URL()`. A property test checks that both paths always agree.
 */

export interface UrlParts {
  /** "http:" or "https:" (as `URL.protocol`). */
  readonly protocol: string;
  /** As `URL.host`: lowercase hostname, ":port" only when not the default. */
  readonly host: string;
  /** As `URL.pathname`. */
  readonly pathname: string;
  /** As `URL.search`: "" or "?…". */
  readonly search: string;
}

/**
 * A serialised http(s) URL with only characters the serialiser leaves as they are:
 * lowercase host labels, an optional port, a path, an optional query. Each part's
 * character class excludes the next part's delimiter, so matching is linear.
 * "'" is left alone in paths but percent-encoded in the query of special schemes.
 */
const SERIALISED =
  /^https?:\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]{1,5})?\/[A-Za-z0-9\-._~!$&()*+,;=:@/%']*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*)?$/;

/** Four decimal octets 0-255 without leading zeros: how the parser serialises an IPv4 host. */
const CANONICAL_IPV4 =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** Every "%" starts a valid escape (the parser leaves a stray "%" alone; we let it decide). */
function escapesValid(s: string): boolean {
  for (let i = s.indexOf("%"); i !== -1; i = s.indexOf("%", i + 1)) {
    if (hexValue(s.charCodeAt(i + 1)) === -1 || hexValue(s.charCodeAt(i + 2)) === -1) return false;
  }
  return true;
}

/** Returns the parts when `url` is already a serialised http(s) URL, else null. */
export function splitSerialisedUrl(url: string): UrlParts | null {
  // One linear regex validates the shape; the parts are then cut out by position, which
  // costs less than capture groups on this per-request path.
  if (!SERIALISED.test(url)) return null;
  const secure = url.charCodeAt(4) === 0x73; // "https"
  const protocol = secure ? "https:" : "http:";
  const hostStart = secure ? 8 : 7;
  const pathStart = url.indexOf("/", hostStart);
  const host = url.slice(hostStart, pathStart);
  const colon = host.indexOf(":");
  const hostname = colon === -1 ? host : host.slice(0, colon);
  // A last label that starts with a digit makes the parser try IPv4 ("127.1", "0x7f"):
  // only the canonical dotted-decimal form is already serialised; "xn--" labels go
  // through IDNA. Leave everything else to the parser.
  const first = hostname.charCodeAt(hostname.lastIndexOf(".") + 1);
  if (first >= 0x30 && first <= 0x39 && !CANONICAL_IPV4.test(hostname)) return null;
  if (hostname.includes("xn--")) return null;
  if (colon !== -1) {
    const port = host.slice(colon + 1);
    if (port.length > 1 && port.charCodeAt(0) === 0x30) return null;
    const value = Number(port);
    if (value > 65535 || value === (secure ? 443 : 80)) return null;
  }
  const q = url.indexOf("?", pathStart);
  const pathname = q === -1 ? url.slice(pathStart) : url.slice(pathStart, q);
  // Dot segments ("/./", "/../", "%2e" spellings) are resolved by the parser. Real paths
  // rarely contain "/." (/.well-known does), so any occurrence takes the slow path.
  if (pathname.includes("/.") || (pathname.includes("%") && /%2e/i.test(pathname))) return null;
  if (!escapesValid(pathname)) return null;
  let search = "";
  if (q !== -1 && q + 1 < url.length) {
    search = url.slice(q);
    if (!escapesValid(search)) return null;
  }
  return { protocol, host, pathname, search };
}
