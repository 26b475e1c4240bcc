/**
 * A fake shield (or origin) on loopback for the Worker tests: a real node:http server
 * that answers each path as a test scripts it and records every request it receives, so
 * tests can count what reached the shield tier. Tests drive it over HTTP from inside
 * workerd through a control API:
 *
 *   POST /__control/script  {"path": "/t/1/a", "responses": [Scripted, …]}
 *        the node answers requests for that path with each response in turn, the last
 *        one repeating; unscripted paths get 404.
 *   GET  /__control/log?path=/t/1/a   the requests received for that path, in order.
 *   POST /__control/hang  {"hang": true}
 *        black-holes the node: every other request is logged and never answered (the
 *        connection stays open), until {"hang": false}.
 *
 * Started by the `workers` project's globalSetup (vitest.config.ts), which provides the
 * node URLs to the tests (`inject("fakeShields")`), plus the URL of a port nothing
 * listens on (`inject("deadNode")`): connecting to it is refused, and a fourth node kept
 * out of the others (`inject("spareShield")`) for the tests that black-hole a node, so
 * test files running at the same time never meet a hanging node they did not ask for.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

export interface Scripted {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  /** UTF-8 body, or base64 bytes (a precompressed body). */
  readonly body?: string;
  readonly bodyBase64?: string;
  /** Wait this long before sending the response headers. */
  readonly delayMs?: number;
  /** Close the connection instead of answering. */
  readonly hangup?: boolean;
  /** Send the body chunked, without Content-Length. */
  readonly chunked?: boolean;
  /** Send the headers and this many body bytes, then cut the connection. */
  readonly cutAfterBytes?: number;
  /** Answer an image request by its Accept: body `format=<type>`, Content-Type that type. */
  readonly byAccept?: boolean;
  /**
   * Precompressed bodies by coding (base64; "identity" for the plain one), chosen by
   * Accept-Encoding as a shield does: br, then gzip, then identity; Vary: Accept-Encoding.
   */
  readonly byEncoding?: Record<string, string>;
}

export interface Logged {
  /** Arrival order across every fake node of this process (they share one counter). */
  readonly seq: number;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
}

let arrivals = 0;

interface Script {
  readonly responses: readonly Scripted[];
  served: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

/** One fake node; `name` is sent back in X-Served-By. */
export function fakeShield(name: string): Server {
  const scripts = new Map<string, Script>();
  const logs = new Map<string, Logged[]>();
  let hanging = false;

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method === "POST" && url.pathname === "/__control/script") {
      const { path, responses } = JSON.parse(await readBody(req)) as {
        path: string;
        responses: Scripted[];
      };
      scripts.set(path, { responses, served: 0 });
      res.writeHead(204).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/__control/hang") {
      hanging = (JSON.parse(await readBody(req)) as { hang: boolean }).hang;
      res.writeHead(204).end();
      return;
    }
    if (req.method === "GET" && url.pathname === "/__control/log") {
      const path = url.searchParams.get("path") ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(logs.get(path) ?? []));
      return;
    }
    res.writeHead(404).end();
  }

  async function serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    await readBody(req);
    const entry: Logged = {
      seq: ++arrivals,
      method: req.method ?? "",
      url: req.url ?? "",
      headers: flatHeaders(req),
    };
    const list = logs.get(url.pathname) ?? [];
    list.push(entry);
    logs.set(url.pathname, list);
    if (hanging) return;

    const script = scripts.get(url.pathname);
    if (script === undefined || script.responses.length === 0) {
      res.writeHead(404, { "content-type": "text/plain", "x-served-by": name });
      res.end("not scripted");
      return;
    }
    const r = script.responses[Math.min(script.served, script.responses.length - 1)]!;
    script.served++;
    if (r.delayMs !== undefined) await new Promise((done) => setTimeout(done, r.delayMs));
    if (r.hangup) {
      req.socket.destroy();
      return;
    }
    let body: Buffer;
    const headers: Record<string, string> = { "x-served-by": name, ...r.headers };
    if (r.byAccept) {
      const accept = req.headers.accept ?? "";
      const type = /^image\/[a-z]+$/.test(accept) ? accept : "image/jpeg";
      headers["content-type"] = type;
      headers.vary = "Accept";
      body = Buffer.from(`format=${type}`);
    } else if (r.byEncoding !== undefined) {
      const accepted = (req.headers["accept-encoding"] ?? "").split(",").map((c) => c.trim());
      const coding = ["br", "gzip"].find((c) => accepted.includes(c) && r.byEncoding?.[c]);
      if (coding !== undefined) headers["content-encoding"] = coding;
      headers.vary = "Accept-Encoding";
      body = Buffer.from(r.byEncoding[coding ?? "identity"] ?? "", "base64");
    } else if (r.bodyBase64 !== undefined) {
      body = Buffer.from(r.bodyBase64, "base64");
    } else {
      body = Buffer.from(r.body ?? "");
    }
    const status = r.status ?? 200;
    // No automatic Date: the Worker tests run on a fake clock, and a real-time Date would
    // make every response look old or young to it. A script sets Date when it matters.
    res.sendDate = false;
    if (r.cutAfterBytes !== undefined) {
      headers["content-length"] = String(body.length);
      res.writeHead(status, headers);
      res.write(body.subarray(0, r.cutAfterBytes));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    if (!r.chunked) headers["content-length"] ??= String(body.length);
    res.writeHead(status, headers);
    res.end(req.method === "HEAD" ? undefined : body);
  }

  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const handler = url.pathname.startsWith("/__control/") ? control : serve;
    handler(req, res, url).catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

declare module "vitest" {
  export interface ProvidedContext {
    fakeShields: string[];
    deadNode: string;
    spareShield: string;
  }
}

/** Vitest globalSetup: three fake shield nodes, a spare one, and one refused port. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = ["shield-a", "shield-b", "shield-c", "shield-d"].map(fakeShield);
  const listening = await Promise.all(servers.map(listen));
  const urls = listening.slice(0, 3);
  const spare = listening[3]!;
  // A port that was just free: connecting to it is refused.
  const probe = createServer();
  const deadNode = await listen(probe);
  await close(probe);
  project.provide("fakeShields", urls);
  project.provide("deadNode", deadNode);
  project.provide("spareShield", spare);
  return async () => {
    await Promise.all(servers.map(close));
  };
}
