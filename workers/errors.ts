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
  /** 421: no configured origin serves this host (RFC 9110 §15.5.20). */
  | "unknown_host"
  /** 502: no shield node (or the origin) could be reached. */
  | "upstream_unreachable"
  /** 504: no shield node (or the origin) answered in time. */
  | "upstream_timeout"
  /** 504: only-if-cached and nothing usable stored (RFC 9111 §5.2.1.7). */
  | "only_if_cached";

const STATUS: Readonly<Record<EdgeErrorCode, number>> = {
  invalid_options: 400,
  unknown_option: 400,
  invalid_option: 400,
  unsupported_option: 400,
  width_not_allowed: 400,
  unknown_host: 421,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  only_if_cached: 504,
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
