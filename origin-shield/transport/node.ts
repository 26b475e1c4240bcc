/**
 * The proxy path on Node's own HTTP server. Hono on @hono/node-server answering a fixed
 * body reaches only about 0.6× a bare node:http server (a Request, a Response and a
 * Headers object per request), which a cache's hit path cannot afford; so proxy traffic
 * is handled on IncomingMessage/ServerResponse directly, with the same handler the Hono
 * app uses, and only /__shield/ admin requests go through Hono.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ShieldHandler } from "../compose.ts";
import type { ShieldContext } from "../context.ts";
import { accessLog } from "../observe/access-log.ts";
import { type BodyStream, errorResponse, type ShieldResponse } from "../respond.ts";
import type { ShieldRequest } from "../types.ts";

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export function nodeListener(
  ctx: ShieldContext,
  handle: ShieldHandler,
  admin: NodeListener,
): NodeListener {
  const log = accessLog(ctx.log);
  const logInfo = log !== null;
  const sendTimeoutMs = ctx.config.shield.server.sendTimeoutMs;
  return (req, res) => {
    const target = req.url ?? "/";
    if (target.startsWith("/__shield/")) {
      ctx.metrics.request("admin");
      admin(req, res);
      return;
    }
    const start = logInfo ? performance.now() : 0;
    const method = req.method ?? "GET";
    const request: ShieldRequest = {
      method,
      target,
      headers: req.headers,
      remoteAddress: req.socket.remoteAddress,
      secure: (req.socket as { encrypted?: boolean }).encrypted === true,
      body: method === "GET" || method === "HEAD" ? null : req,
    };
    let result: ShieldResponse | Promise<ShieldResponse>;
    try {
      result = handle(request);
    } catch (err) {
      result = internalError(ctx, err);
    }
    const done = (r: ShieldResponse, bytes: number, ok: boolean) => {
      ctx.metrics.request(r.outcome);
      ctx.metrics.served(bytes);
      if (log !== null) {
        const ms = Math.round((performance.now() - start) * 10) / 10;
        log(method, target, r.status, r.outcome, bytes, ms, ok);
      }
    };
    if (result instanceof Promise) {
      result.then(
        (r) => write(res, r, sendTimeoutMs, done),
        (err: unknown) => write(res, internalError(ctx, err), sendTimeoutMs, done),
      );
    } else write(res, result, sendTimeoutMs, done);
  };
}

function write(
  res: ServerResponse,
  r: ShieldResponse,
  sendTimeoutMs: number,
  done: (r: ShieldResponse, bytes: number, ok: boolean) => void,
): void {
  if (res.destroyed) {
    if (r.body !== null && !Buffer.isBuffer(r.body)) r.body.close();
    done(r, 0, false);
    return;
  }
  try {
    res.writeHead(r.status, r.headers);
  } catch (err) {
    // A field value Node refuses to send (an origin's stray control character): the
    // client gets a 502 rather than a crash or a half-written head.
    if (r.body !== null && !Buffer.isBuffer(r.body)) r.body.close();
    res.writeHead(502, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(`${JSON.stringify({ error: "bad_origin_header", message: String(err) })}\n`);
    done(r, 0, false);
    return;
  }
  const body = r.body;
  if (body === null) {
    res.end();
    done(r, 0, true);
  } else if (Buffer.isBuffer(body)) {
    res.end(body);
    // What the socket could not take at once waits in memory: close a client that stops
    // reading it. Most hits fit in the socket's buffers and never start the watch.
    const socket = res.socket;
    if (res.writableNeedDrain && socket !== null) {
      res.setTimeout(sendTimeoutMs, () => res.destroy());
      // Once all of it is with the kernel the client may read the rest at leisure; a
      // keep-alive connection gets Node's own idle timeout back instead.
      res.once("finish", () => {
        if (!res.shouldKeepAlive) socket.setTimeout(0);
      });
    }
    done(r, body.length, true);
  } else {
    void pipe(body, res, sendTimeoutMs).then(({ bytes, complete }) => done(r, bytes, complete));
  }
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
