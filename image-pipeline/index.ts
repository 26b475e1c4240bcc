/**
 * The image pipeline as the shield uses it: signatures checked, and transforms run
 * through one bounded queue with sharp set up for this machine. Everything that does not
 * need sharp or Node (resolving options into a TransformSpec, its variant id, colours,
 * ImageError) is in core/variant, shared with the edge.
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import sharp from "sharp";
import type { ImagesConfig } from "../core/config/index.ts";
import type { TransformSpec } from "../core/variant/index.ts";
import { TransformQueue } from "./queue.ts";
import type { PipelineSettings } from "./settings.ts";
import { probe, type SourceHeader, type TransformResult, transform } from "./transform.ts";

export type { SignatureCheck } from "../core/variant/index.ts";
export { HEADER_WINDOW, jpegHeaderLength } from "./header.ts";
export type { PipelineSettings } from "./settings.ts";
export { signTransform } from "./signing.ts";
export type { SourceHeader, TransformResult } from "./transform.ts";

export class ImagePipeline {
  readonly queue: TransformQueue;
  readonly settings: PipelineSettings;
  /**
   * Everything besides the source and the options that shapes the output bytes: the
   * library versions and encoder settings. It goes into each variant's ETag, so an
   * upgrade or a new effort setting never reuses an old validator for new bytes.
   */
  readonly fingerprint: string;

  constructor(images: ImagesConfig, cores = availableParallelism()) {
    const l = images.limits;
    // sharp gives libvips one thread per image by default on glibc Linux without jemalloc
    // (sharp.concurrency's documented default there is 1; elsewhere the core count): give
    // it the cores. The operation cache only helps repeated work on the same file;
    // sources here are fresh buffers every time, so it would only hold memory.
    sharp.concurrency(cores);
    sharp.cache(false);
    this.settings = {
      maxInputPixels: l.maxInputPixels,
      maxOutputWidth: l.maxOutputWidth,
      maxOutputHeight: l.maxOutputHeight,
      timeoutMs: l.timeoutMs,
      avifEffort: images.avifEffort,
      webpEffort: images.webpEffort,
    };
    this.queue = new TransformQueue({
      // Twice the cores, as imgproxy's default (IMGPROXY_WORKERS): a transform spends
      // much of its time in single-threaded stages (JPEG decoding, WebP encoding), and a
      // second one per core keeps the cores busy through them (bench/image.ts).
      concurrency: l.concurrency === 0 ? cores * 2 : l.concurrency,
      maxQueue: l.maxQueue,
      timeoutMs: l.timeoutMs,
    });
    this.fingerprint = createHash("sha256")
      .update(
        JSON.stringify([
          sharp.versions,
          images.avifEffort,
          images.webpEffort,
          l.maxOutputWidth,
          l.maxOutputHeight,
        ]),
      )
      .digest("base64url")
      .slice(0, 16);
  }

  /**
   * Transform in the queue (503 transform_busy when it is full, transform_timeout).
   * `header`: the source's header if it was read already (probeHeader, or an earlier
   * transform's result for the same bytes); null, or a read that failed, and it is read
   * in the queue as always, where any error it raises is reported.
   */
  run(
    input: Buffer,
    spec: TransformSpec,
    header: SourceHeader | Promise<SourceHeader | null> | null = null,
  ): Promise<TransformResult> {
    return this.queue.run(async () => transform(input, spec, this.settings, await header));
  }

  /**
   * Read a header from the first bytes of a source (a prefix that holds all of it, as
   * jpegHeaderLength finds), outside the queue: it costs a header parse, well under a
   * millisecond, and runs while the rest of the body is still arriving. Null when it
   * cannot be read; never rejects, so that a body that then fails leaves nothing behind.
   */
  probeHeader(prefix: Buffer): Promise<SourceHeader | null> {
    return probe(prefix).catch(() => null);
  }
}
