/** The Worker's bindings: wrangler.toml [vars], and secrets set with `wrangler secret put`. */
export interface Env {
  /** The CDN config as JSON (core/config schema), the same document the shield reads. */
  readonly CDN_CONFIG?: string;
  /**
   * Comma-separated shield base URLs; when set (and not blank) it replaces the config's
   * `edge.shieldNodes`, so one config document can serve several deployments.
   */
  readonly SHIELD_NODES?: string;
  /**
   * A secret: the bearer token that lets a request to /__edge/health see the origins,
   * the shield nodes and the config's issues. Unset or blank, nobody sees them.
   */
  readonly EDGE_ADMIN_TOKEN?: string;
  /**
   * A secret: the HMAC key of signed transform URLs, as the shield's environment variable
   * of the same name. When set (and not blank) it replaces `images.signing.secret`, and the
   * edge refuses a transform URL without a valid signature before any lookup or fetch.
   */
  readonly IMAGE_SIGNING_SECRET?: string;
  /**
   * A secret shared with the shields (their SHIELD_EDGE_SECRET or shield.edgeAuth.secret,
   * at least 32 characters): each request to a shield node is signed with it
   * (CDN-Edge-Signature). Unset or blank, requests go unsigned.
   */
  readonly EDGE_SHIELD_SECRET?: string;
  /**
   * Optional: Cloudflare's Workers rate-limiting binding (wrangler.toml `[[ratelimits]]`,
   * named EDGE_RATE_LIMITER). When bound, each client address gets that many requests per
   * period before a 429, checked before the cache (request/rate-limit.ts).
   */
  readonly EDGE_RATE_LIMITER?: RateLimit;
}
