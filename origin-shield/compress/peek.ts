/**
 * A body of unknown length (an origin that sent it chunked) is read until it has at
 * least `min` bytes before it is compressed: one that ends sooner is too small to gain
 * anything (minBytes), and goes out as the plain answer, now with its length. What was
 * read is put back in front of the rest, so nothing is lost or read twice.
 */
import type { BodyStream, ShieldResponse } from "../respond.ts";

/** The answer with its body read whole (under `min` bytes), or still streaming. */
export type Peeked =
  | { readonly small: true; readonly answer: ShieldResponse }
  | { readonly small: false; readonly answer: ShieldResponse };

export async function peekSmall(answer: ShieldResponse, min: number): Promise<Peeked> {
  const body = answer.body;
  if (body === null || Buffer.isBuffer(body)) {
    return { small: body !== null && body.length < min, answer };
  }
  const it = body[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  try {
    while (size < min) {
      const r = await it.next();
      if (r.done === true) {
        const whole = Buffer.concat(head, size);
        const headers = answer.headers;
        headers.push("content-length", String(whole.length));
        return { small: true, answer: { ...answer, headers, body: whole } };
      }
      head.push(r.value);
      size += r.value.length;
    }
  } catch (err) {
    // The body failed while it was read: it fails for the client as it would have.
    return { small: false, answer: { ...answer, body: failing(head, err, body) } };
  }
  return { small: false, answer: { ...answer, body: prefixed(head, it, body) } };
}

function prefixed(head: Buffer[], rest: AsyncIterator<Buffer>, original: BodyStream): BodyStream {
  return {
    close: () => original.close(),
    async *[Symbol.asyncIterator]() {
      yield* head;
      for (;;) {
        const r = await rest.next();
        if (r.done === true) return;
        yield r.value;
      }
    },
  };
}

function failing(head: Buffer[], err: unknown, original: BodyStream): BodyStream {
  return {
    close: () => original.close(),
    async *[Symbol.asyncIterator]() {
      yield* head;
      throw err;
    },
  };
}
