/** What the image route resolved a transform URL to: the variant's identity and source. */
import type { NormalisedUrl } from "../../core/key/index.ts";
import type { TransformSpec } from "../../core/variant/index.ts";

export interface ImageJob {
  readonly spec: TransformSpec;
  /** The resolved options (core/variant transformVariantId): the variant's identity. */
  readonly id: string;
  /** The source's request-target on this host: path and normalised query. */
  readonly sourceTarget: string;
  /** The source's normalised URL (purging it purges the variant). */
  readonly sourceUrl: string;
  /** The source's path. */
  readonly sourcePath: string;
  /** format=auto was resolved here from Accept: responses say `Vary: Accept`. */
  readonly negotiated: boolean;
  /**
   * The Client Hints width=auto or dpr=auto was resolved here from (core/variant
   * resolveAutoSize), for Vary (RFC 8942 §2.2); absent or empty: none.
   */
  readonly varyHints?: readonly string[] | undefined;
  /**
   * The Vary field value every answer carries (Accept, then the hints), written once
   * here rather than for each hit; absent: none.
   */
  readonly vary?: string | undefined;
}

/** A transform URL resolved for one Accept value: what the key and the fill need. */
export interface ResolvedImage {
  readonly job: ImageJob;
  /** The variant's own URL, its path naming the resolved options (key and purge index). */
  readonly variant: NormalisedUrl;
}
