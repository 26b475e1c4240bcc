/** The compression counters, registered on the shield's own registry (observe/metrics.ts). */
import { Counter, type Registry } from "prom-client";

export interface CompressionMetrics {
  /** Copies made and what became of them, by coding and result. */
  readonly events: Counter<"coding" | "result">;
  /** Bytes into and out of the encoders and decoders, by coding and direction. */
  readonly bytes: Counter<"coding" | "direction">;
}

export function compressionMetrics(registry: Registry): CompressionMetrics {
  const registers = [registry];
  return {
    events: new Counter({
      name: "shield_compression_total",
      help: "Encoded copies, by coding and result: encoded (the fast copy made on a miss), decoded (an origin's compressed body, for a client that does not take its coding), reencoded (the stored copy replaced by its brotliStoredLevel encode), reencode_dropped (the re-encode queue was full), reencode_skipped (the copy was gone, or the encode was not smaller), not_modified (a stored copy revalidated without encoding), busy (too many encodes at once: sent uncompressed), too_large (a compressed body that decodes past its bound: refused), corrupt (one that does not decode).",
      labelNames: ["coding", "result"],
      registers,
    }),
    bytes: new Counter({
      name: "shield_compression_bytes_total",
      help: "Bytes through the encoders and decoders, by coding and direction (in, out).",
      labelNames: ["coding", "direction"],
      registers,
    }),
  };
}
