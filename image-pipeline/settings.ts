/**
 * The bounds and encoder settings every sharp call of a transform runs under, from the
 * images config (ImagePipeline in index.ts builds them). A leaf module: transform.ts and
 * frames.ts both take it, and neither imports the other's types.
 */
export interface PipelineSettings {
  readonly maxInputPixels: number;
  readonly maxOutputWidth: number;
  readonly maxOutputHeight: number;
  readonly timeoutMs: number;
  readonly avifEffort: number;
  readonly webpEffort: number;
}
