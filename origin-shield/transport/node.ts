/**
 * The proxy path on Node's own HTTP server. Hono on @hono/node-server answering a fixed
 * body reaches only about 0.6× a bare node:http server (a Request, a Response and a
 * Headers object per request), which a cache's hit path cannot afford; so proxy traffic
 * is handled on IncomingMessage/ServerResponse directly, with the same handler the Hono
 * app uses, and only /__shield/ admin requests go through Hono.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ShieldHandler } from "../compose.ts";
import type { ShieldContext } from "../context.ts";
import { accessLog } from "../observe/access-log.ts";
import { type HopTrace, traceRequest } from "../observe/trace.ts";
import { type BodyStream, errorResponse, type ShieldResponse } from "../respond.ts";
import type { ShieldRequest } from "../types.ts";
import { interimWriter } from "./interim.ts";

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export function nodeListener(
  ctx: ShieldContext,
  handle: ShieldHandler,
  admin: NodeListener,
): NodeListener {
  const log = accessLog(ctx.log);
  const metrics = ctx.metrics;
  const sendTimeoutMs = ctx.config.shield.server.sendTimeoutMs;
  /** Count, and log, one request once its answer is written (`sent`: see `write`). */
  const finish = (
    method: string,
    target: string,
    start: number,
    trace: HopTrace,
    r: ShieldResponse,
    sent: number,
  ) => {
    const complete = sent >= 0;
    const bytes = complete ? sent : -1 - sent;
    metrics.request(r.outcome);
    metrics.served(bytes);
    if (log !== null) {
      const ms = Math.round((performance.now() - start) * 10) / 10;
      log(method, target, r.status, r.outcome, bytes, ms, complete, trace);
    }
  };
  return (req, res) => {
    const target = req.url ?? "/";
    if (target.startsWith("/__shield/")) {
      metrics.request("admin");
      admin(req, res);
      return;
    }
    const start = log !== null ? performance.now() : 0;
    const method = req.method ?? "GET";
    const trace = traceRequest(req.headers);
    const socket = req.socket;
    const request: ShieldRequest = {
      method,
      target,
      headers: req.headers,
      remoteAddress: socket.remoteAddress,
      secure: (socket as { encrypted?: boolean }).encrypted === true,
      body: method === "GET" || method === "HEAD" ? null : req,
      interim: interimWriter(req, res),
    };
    let result: ShieldResponse | Promise<ShieldResponse>;
    try {
      result = handle(request);
    } catch (err) {
      result = internalError(ctx, err);
    }
    if (result instanceof Promise) {
      const send = (r: ShieldResponse) => {
        const sent = write(res, r, sendTimeoutMs);
        if (typeof sent === "number") finish(method, target, start, trace, r, sent);
        else void sent.then((n) => finish(method, target, start, trace, r, n));
      };
      result.then(send, (err: unknown) => send(internalError(ctx, err)));
      return;
    }
    // A hit: written at once, without a closure or a promise.
    const sent = write(res, result, sendTimeoutMs);
    if (typeof sent === "number") finish(method, target, start, trace, result, sent);
    else {
      const r = result;
      void sent.then((n) => finish(method, target, start, trace, r, n));
    }
  };
}

/**
 * Write one answer. Returns the body bytes sent, as a number when the answer is written
 * at once (a stored body, or none) and as a promise while a body streams; a transfer
 * that did not complete is told by a negative value, −1 − bytes.
 */
function write(
  res: ServerResponse,
  r: ShieldResponse,
  sendTimeoutMs: number,
): number | Promise<number> {
  const body = r.body;
  if (res.destroyed) {
    if (body !== null && !Buffer.isBuffer(body)) body.close();
    return -1;
  }
  try {
    res.writeHead(r.status, r.headers);
  } catch (err) {
    // A field value Node refuses to send (an origin's stray control character): the
    // client gets a 502 rather than a crash or a half-written head.
    if (body !== null && !Buffer.isBuffer(body)) body.close();
    res.writeHead(502, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(`${JSON.stringify({ error: "bad_origin_header", message: String(err) })}\n`);
    return -1;
  }
  if (body === null) {
    res.end();
    return 0;
  }
  if (Buffer.isBuffer(body)) {
    res.end(body);
    // What the socket could not take at once waits in memory: close a client that stops
    // reading it. Most hits fit in the socket's buffers and never start the watch. (The
    // response's own writableNeedDrain is false once it has ended: the socket's count of
    // bytes still queued is what tells.)
    const socket = res.socket;
    if (socket !== null && socket.writableLength > 0) watchSend(res, socket, sendTimeoutMs);
    return body.length;
  }
  return pipe(body, res, sendTimeoutMs).then(({ bytes, complete }) =>
    complete ? bytes : -1 - bytes,
  );
}

/**
 * Cut a client that takes none of what waits for it for `ms` (the rule of nginx's
 * send_timeout: the socket's timeout fires only when the write in progress has not
 * moved). Once all of it is with the kernel the client may read the rest at leisure; a
 * keep-alive connection gets Node's own idle timeout back instead.
 */
function watchSend(res: ServerResponse, socket: Socket, ms: number): void {
  res.setTimeout(ms, () => res.destroy());
  res.once("finish", () => {
    if (!res.shouldKeepAlive) socket.setTimeout(0);
  });
}

/**
 * Resolves true on 'drain', false when no write made progress for `ms` (or the response
 * closed), the rule of nginx's send_timeout. Node's socket timeout is the clock: it
 * fires only when the write in progress has not moved, and it is armed only while this
 * side has bytes the client has not taken (a slow origin is not the client's fault).
 */
function drained(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const finish = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onStop);
      res.off("timeout", onStop);
      if (!res.destroyed) res.setTimeout(0);
      resolve(ok);
    };
    const onDrain = () => finish(true);
    const onStop = () => finish(false);
    res.on("drain", onDrain);
    res.on("close", onStop);
    res.on("timeout", onStop);
    res.setTimeout(ms);
  });
}

/**
 * Stream a body to the client with backpressure. A client that goes away, or stops
 * reading for sendTimeoutMs, only stops its own reader; an origin failure mid-body
 * destroys the socket, so the client sees a truncated transfer as an error, never as a
 * complete response. Resolves to the bytes sent and whether the transfer completed.
 */
async function pipe(
  body: BodyStream,
  res: ServerResponse,
  sendTimeoutMs: number,
): Promise<{ bytes: number; complete: boolean }> {
  let bytes = 0;
  const onClose = () => body.close();
  res.once("close", onClose);
  try {
    for await (const chunk of body) {
      if (res.destroyed) return { bytes, complete: false };
      bytes += chunk.length;
      // A client that stops reading is cut after sendTimeoutMs: it releases the origin
      // connection (pass-through) or stops holding back an unstored fill's other readers.
      if (!res.write(chunk) && !(await drained(res, sendTimeoutMs))) {
        res.destroy();
        return { bytes, complete: false };
      }
    }
    if (res.destroyed) return { bytes, complete: false };
    res.end();
    return { bytes, complete: true };
  } catch {
    res.destroy();
    return { bytes, complete: false };
  } finally {
    res.off("close", onClose);
  }
}

function internalError(ctx: ShieldContext, err: unknown): ShieldResponse {
  ctx.log.error({ err }, "request failed");
  return errorResponse(
    { status: 500, code: "internal_error", message: "the shield failed to handle this request" },
    "error",
  );
}
