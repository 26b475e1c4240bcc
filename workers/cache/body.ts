/** A stored body: a stream from the Cache API, or bytes held in memory. */
export type StoredBody = ReadableStream | Uint8Array | null;

/** Let go of a body that will not be sent: a stream must be cancelled to free it. */
export function discard(body: StoredBody): void {
  if (body instanceof ReadableStream) void body.cancel().catch(() => {});
}

/** Two independent copies of a body: one for the client, one for the cache. */
export function split(body: StoredBody): [StoredBody, StoredBody] {
  if (body instanceof ReadableStream) return body.tee();
  return [body, body];
}
