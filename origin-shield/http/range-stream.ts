/**
 * Bytes `start`..`end` (inclusive) of a body that is still arriving: chunks before the
 * range are skipped, the part inside it passed on as views (no copy), and the source is
 * closed once the last byte of the range has gone, so a reader of the start of a large
 * body does not hold the rest. A source that fails fails the part too: a client never
 * mistakes a cut range for a complete one.
 */
/** A body read as it arrives, that can be closed unread (the shield's BodyStream). */
type BodyStream = AsyncIterable<Buffer> & { close(): void };

export function sliceStream(source: BodyStream, start: number, end: number): BodyStream {
  return {
    close: () => source.close(),
    async *[Symbol.asyncIterator]() {
      let at = 0; // offset of the next chunk's first byte in the whole body
      try {
        for await (const chunk of source) {
          const from = at;
          at += chunk.length;
          if (at <= start) continue;
          const first = Math.max(0, start - from);
          const last = Math.min(chunk.length, end + 1 - from);
          if (last > first) yield chunk.subarray(first, last);
          if (at > end) return;
        }
      } finally {
        source.close();
      }
      if (at <= end) throw new Error(`the body ended at byte ${at}, before the range's end`);
    },
  };
}
