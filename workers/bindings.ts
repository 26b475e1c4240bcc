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
}
