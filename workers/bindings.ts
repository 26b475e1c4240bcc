/** The Worker's bindings (wrangler.toml [vars]). */
export interface Env {
  /** The CDN config as JSON (core/config schema), the same document the shield reads. */
  readonly CDN_CONFIG?: string;
  /**
   * Comma-separated shield base URLs; when set (and not blank) it replaces the config's
   * `edge.shieldNodes`, so one config document can serve several deployments.
   */
  readonly SHIELD_NODES?: string;
}
