/**
 * The same handler behind a web Request/Response, for the Hono app (tests call
 * `app.request()`; any fetch-style host can run it).
 */
import type { ShieldHandler } from "../compose.ts";
import type { ShieldContext } from "../context.ts";
import { fromWebHeaders } from "../http/headers.ts";
import { traceRequest } from "../observe/trace.ts";
import type { ShieldResponse } from "../respond.ts";

export async function handleWeb(
  ctx: ShieldContext,
  handle: ShieldHandler,
  request: Request,
  remoteAddress: string | undefined,
): Promise<Response> {
  const url = new URL(request.url);
  const headers = fromWebHeaders(request.headers);
  headers.host ??= url.host;
  traceRequest(headers);
  const method = request.method;
  const r = await handle({
    method,
    target: url.pathname + url.search,
    headers,
    remoteAddress,
    secure: url.protocol === "https:",
    body:
      method === "GET" || method === "HEAD" || request.body === null ? null : iterate(request.body),
  });
  ctx.metrics.request(r.outcome);
  return toResponse(r);
}

export function toResponse(answer: ShieldResponse): Response {
  const headers = new Headers();
  for (let i = 0; i < answer.headers.length; i += 2) {
    headers.append(answer.headers[i] as string, answer.headers[i + 1] as string);
  }
  const body = answer.body;
  if (body === null || answer.status === 304 || answer.status === 204)
    return new Response(null, { status: answer.status, headers });
  if (Buffer.isBuffer(body))
    return new Response(new Uint8Array(body), { status: answer.status, headers });
  const it = body[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await it.next();
        if (next.done) controller.close();
        else controller.enqueue(new Uint8Array(next.value));
      } catch (err) {
        controller.error(err);
      }
    },
    cancel() {
      body.close();
    },
  });
  return new Response(stream, { status: answer.status, headers });
}

async function* iterate(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
