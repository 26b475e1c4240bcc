/**
 * Field vocabularies of the config schema: each validates one kind of value and says
 * what is wrong in words an operator can act on.
 */

import { globError } from "../rules/glob.ts";
import { type RefinementCtx, z } from "./zod.ts";

/**
 * Tracking parameters dropped from the key and the forwarded URL by default. They
 * identify a click or campaign, never the resource, so keying on them only fragments
 * the cache (every ad click a miss). "prefix*" matches a prefix.
 */
export const DEFAULT_TRACKING_PARAMS: readonly string[] = [
  "utm_*", // Google Analytics campaign parameters (utm_source, utm_medium, …)
  "fbclid", // Facebook / Meta
  "gclid", // Google Ads
  "gclsrc",
  "dclid", // Google Display & Video
  "gbraid", // Google Ads (iOS app / web)
  "wbraid",
  "msclkid", // Microsoft Advertising
  "mc_cid", // Mailchimp
  "mc_eid",
  "_ga", // Google Analytics cross-domain linker
  "_gl",
  "yclid", // Yandex
  "igshid", // Instagram
  "twclid", // X / Twitter
  "ttclid", // TikTok
  "li_fat_id", // LinkedIn
  "_hsenc", // HubSpot
  "_hsmi",
  "mkt_tok", // Marketo
  "epik", // Pinterest
];

/**
 * Delta-seconds. RFC 9111 §1.2.2 caps them at 2^31 (a larger value is read as 2^31);
 * a config asking for more is a mistake worth reporting.
 */
export const seconds = z
  .number()
  .int("must be a whole number of seconds")
  .min(0, "must be ≥ 0")
  .max(2_147_483_648, "must be ≤ 2147483648 (RFC 9111 §1.2.2)");

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Header field name: a token (RFC 9110 §5.1). */
export const headerName = z.string().regex(TOKEN, "must be a header name (RFC 9110 token)");

/** Cookie name: a token (RFC 6265 §4.1.1). Case-sensitive. */
export const cookieName = z.string().regex(TOKEN, "must be a cookie name (RFC 6265 token)");

/**
 * A cookie name, or "prefix*" for every name starting with prefix: many applications
 * suffix a hash to their session cookie (WordPress's `wordpress_logged_in_<hash>`).
 */
export const cookiePattern = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "must be a cookie name (RFC 6265 token)")
  .refine(
    (p) => p.indexOf("*") === -1 || (p.indexOf("*") === p.length - 1 && p.length > 1),
    '"*" is only allowed at the end of a name, as a prefix',
  );

/** Request method: a token; methods are case-sensitive (RFC 9110 §9.1), so "get" is not GET. */
export const httpMethod = z
  .string()
  .regex(TOKEN, "must be an HTTP method token")
  .refine(
    (m) => m === m.toUpperCase(),
    "must be uppercase (methods are case-sensitive, RFC 9110 §9.1)",
  );

export const statusMatcher = z.union(
  [z.number().int().min(100).max(599), z.enum(["2xx", "3xx", "4xx", "5xx"])],
  { error: 'must be a status code 100-599 or one of "2xx", "3xx", "4xx", "5xx"' },
);

/** "type/subtype" or "type/*", lowercased; parameters are not part of the match. */
export const mediaRangePattern = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine(
    (s) =>
      /^[!#$%&'*+\-.^_`|~0-9a-z]+\/(\*|[!#$%&'*+\-.^_`|~0-9a-z]+)$/.test(s) && !s.startsWith("*/"),
    'must be "type/subtype" or "type/*" without parameters (omit contentType to match any)',
  );

const LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/**
 * Request hostname, lowercased (hostnames are case-insensitive, RFC 4343); "*.suffix"
 * matches any subdomain of suffix. No port: the port is not part of the host's identity
 * here, and a typo'd port would silently never match.
 */
export const hostPattern = z
  .string()
  .transform((s) => s.toLowerCase())
  .superRefine((h, ctx) => {
    if (h === "*") return; // every host: a default origin
    const name = h.startsWith("*.") ? h.slice(2) : h;
    const ok = name.length <= 253 && (HOSTNAME.test(name) || (name === h && IPV6.test(name)));
    if (!ok) {
      const why =
        /:\d+$/.test(h) && !h.startsWith("[")
          ? "must not include a port"
          : 'must be a hostname or "*.example.com"';
      ctx.addIssue({ code: "custom", message: why });
    }
  });

/** Origin base URL: http(s), no query, fragment or credentials. */
export const originUrl = z.string().superRefine((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be an absolute http:// or https:// URL" });
    return;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    ctx.addIssue({
      code: "custom",
      message: `must use http or https, not ${u.protocol.slice(0, -1)}`,
    });
  } else if (s.includes("?") || s.includes("#")) {
    ctx.addIssue({ code: "custom", message: "must not have a query or fragment" });
  } else if (u.username !== "" || u.password !== "") {
    ctx.addIssue({ code: "custom", message: "must not contain credentials" });
  }
});

/** A query parameter name, or "prefix*" matching every name that starts with prefix. */
export const paramPattern = z
  .string()
  .min(1, "must not be empty")
  .refine(
    (p) => p.indexOf("*") === -1 || p.indexOf("*") === p.length - 1,
    '"*" is only allowed at the end',
  )
  .refine((p) => p !== "*", 'a bare "*" would match every parameter; use mode instead');

/** Whether two param patterns can match a common name (compared case-insensitively). */
export function patternsOverlap(first: string, second: string): boolean {
  const x = first.toLowerCase();
  const y = second.toLowerCase();
  const xw = x.endsWith("*");
  const yw = y.endsWith("*");
  const xp = xw ? x.slice(0, -1) : x;
  const yp = yw ? y.slice(0, -1) : y;
  if (xw && yw) return xp.startsWith(yp) || yp.startsWith(xp);
  if (xw) return y.startsWith(xp);
  if (yw) return x.startsWith(yp);
  return x === y;
}

/** A path glob: validated here, compiled by core/rules/glob.ts. */
export const pathGlob = z
  .string()
  .superRefine((glob, ctx) => {
    const error = globError(glob);
    if (error !== null) ctx.addIssue({ code: "custom", message: error });
  })
  .describe(
    'Path glob: "*" matches within one segment, "**" (a whole segment) any number of segments, anything else matches exactly and case-sensitively.',
  );

/** Report each duplicate of an array of strings at its own index. */
export function unique(what: string, normalise: (value: string) => string = (value) => value) {
  return (values: readonly string[], ctx: RefinementCtx) => {
    const seen = new Set<string>();
    values.forEach((v, i) => {
      const k = normalise(v);
      if (seen.has(k))
        ctx.addIssue({ code: "custom", path: [i], message: `duplicate ${what} "${v}"` });
      seen.add(k);
    });
  };
}

export function strictlyAscending(values: readonly number[], ctx: RefinementCtx): void {
  for (let i = 1; i < values.length; i++) {
    if ((values[i] as number) <= (values[i - 1] as number)) {
      ctx.addIssue({ code: "custom", path: [i], message: "must be strictly ascending" });
    }
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An IPv4 or IPv6 address (no brackets, no zone). */
function isAddress(s: string): 4 | 6 | 0 {
  if (IPV4.test(s)) return 4;
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return 0;
  return URL.canParse(`http://[${s}]/`) ? 6 : 0;
}

/** An IP address or a CIDR range ("10.0.0.0/8", "2001:db8::/32"). */
export const addressOrRange = z.string().superRefine((s, ctx) => {
  const [address = "", bits, extra] = s.split("/");
  const family = isAddress(address);
  const max = family === 4 ? 32 : 128;
  const ok =
    family !== 0 &&
    extra === undefined &&
    (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
  if (!ok) {
    ctx.addIssue({
      code: "custom",
      message: 'must be an IP address or a CIDR range such as "10.0.0.0/8" or "::1/128"',
    });
  }
});
