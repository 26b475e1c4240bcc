/**
 * Errors the edge answers a client with: each has a stable code (the `error` field of the
 * JSON body and the `detail` of the edge's Cache-Status member), a status, and renders
 * itself. They are never stored (`Cache-Control: no-store`).
 */
import { appendCacheStatus, type CacheStatusMember } from "../core/http/cache-status.ts";

export type EdgeErrorCode =
  /** 400: a transform URL is not `<prefix><options>/<path>` (core/variant). */
  | "invalid_options"
  /** 400: a transform option this CDN does not know; the body names it. */
  | "unknown_option"
  /** 400: a transform option's value is malformed; the body names the option. */
  | "invalid_option"
  /** 400: a Cloudflare transform option this CDN does not run; the body names it. */
  | "unsupported_option"
  /** 400: a width (or height) outside `images.widths` with widthPolicy allow-list. */
  | "width_not_allowed"
  /** 403: signing is configured and a transform URL has no `sig` option (as the shield). */
  | "missing_signature"
  /** 403: a transform URL's `sig` is not the signature of its options and source. */
  | "bad_signature"
  /** 404: a path the edge keeps to itself (/__shield/…, /__edge/…), never forwarded. */
  | "not_found"
  /** 421: no configured origin serves this host (RFC 9110 §15.5.20). */
  | "unknown_host"
  /** 429: the client is over the Workers rate-limiting binding's limit (RFC 6585 §4). */
  | "rate_limited"
  /** 502: no shield node (or the origin) could be reached. */
  | "upstream_unreachable"
  /** 504: no shield node (or the origin) answered in time. */
  | "upstream_timeout"
  /** 504: only-if-cached and nothing usable stored (RFC 9111 §5.2.1.7). */
  | "only_if_cached"
  /**
   * 500: the configuration (CDN_CONFIG or SHIELD_NODES) is invalid. Visitors get this
   * code alone; the issues are logged and shown on /__edge/health to the admin.
   */
  | "config_invalid";

const STATUS: Readonly<Record<EdgeErrorCode, number>> = {
  invalid_options: 400,
  unknown_option: 400,
  invalid_option: 400,
  unsupported_option: 400,
  width_not_allowed: 400,
  missing_signature: 403,
  bad_signature: 403,
  not_found: 404,
  unknown_host: 421,
  rate_limited: 429,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  only_if_cached: 504,
  config_invalid: 500,
};

export class EdgeError extends Error {
  override readonly name = "EdgeError";
  readonly code: EdgeErrorCode;
  readonly status: number;
  /** The request option at fault (transform URLs). */
  readonly option: string | undefined;

  constructor(code: EdgeErrorCode, message: string, option?: string) {
    super(message);
    this.code = code;
    this.status = STATUS[code];
    this.option = option;
  }

  /** The response, with this cache's member (detail = the code) after any upstream ones. */
  toResponse(member: CacheStatusMember, upstreamCacheStatus?: string | null): Response {
    const body = JSON.stringify(
      this.option === undefined
        ? { error: this.code, message: this.message }
        : { error: this.code, option: this.option, message: this.message },
    );
    return new Response(body, {
      status: this.status,
      headers: {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
        "cache-status": appendCacheStatus(upstreamCacheStatus, { ...member, detail: this.code }),
      },
    });
  }
}

/**
 * The answer to every request while the config is invalid: the code alone, since the
 * issues may name internal addresses and are for the operator (config/from-env.ts). The
 * member carries the default name: the configured one is in the config that failed.
 */
export function misconfigured(): Response {
  return new EdgeError("config_invalid", "the edge is misconfigured").toResponse({ cache: "edge" });
}
