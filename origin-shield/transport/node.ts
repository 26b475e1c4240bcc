/**
 * The proxy path on Node's own HTTP server. Hono on @hono/node-server answering a fixed
 * body reaches only about 0.6× a bare node:http server (a Request, a Response and a
 * Headers object per request), which a cache's hit path cannot afford; so proxy traffic
 * is handled on IncomingMessage/ServerResponse directly, with the same handler the Hono
 * app uses, and only /__shield/ admin requests go through Hono.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ShieldContext } from "../context.ts";
import { handle, type ShieldRequest } from "../handler.ts";
import { accessLog } from "../observe/access-log.ts";
import { type BodyStream, errorResponse, type ShieldResponse } from "../respond.ts";

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

export function nodeListener(ctx: ShieldContext, admin: NodeListener): NodeListener {
  const log = accessLog(ctx.log);
  const logInfo = log !== null;
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
      result = handle(ctx, request);
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
        (r) => write(res, r, done),
        (err: unknown) => write(res, internalError(ctx, err), done),
      );
    } else write(res, result, done);
  };
}

function write(
  res: ServerResponse,
  r: ShieldResponse,
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
    done(r, body.length, true);
  } else {
    void pipe(body, res).then(({ bytes, complete }) => done(r, bytes, complete));
  }
}

/**
 * Stream a body to the client with backpressure. A client that goes away only stops its
 * own reader; an origin failure mid-body destroys the socket, so the client sees a
 * truncated transfer as an error, never as a complete response. Resolves to the bytes
 * sent and whether the transfer completed.
 */
async function pipe(
  body: BodyStream,
  res: ServerResponse,
): Promise<{ bytes: number; complete: boolean }> {
  let bytes = 0;
  const onClose = () => body.close();
  res.once("close", onClose);
  try {
    for await (const chunk of body) {
      if (res.destroyed) return { bytes, complete: false };
      bytes += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
        });
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
