/**
 * An origin that can send any bytes: a raw TCP server on loopback, for what a real HTTP
 * server library would never let a test send (resets mid-body, bodies delimited by the
 * connection's close, header names and values a client library may or may not accept,
 * garbage status lines, bodies that trickle). Each request on a connection is parsed
 * just enough to hand the test its method, target and headers; the test's script then
 * writes whatever it likes on the socket.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  /** Lowercase names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
}

/** Writes the response (or anything else) for one request on the socket. */
export type RawScript = (socket: Socket, req: RawRequest) => void | Promise<void>;

export interface HostileOrigin {
  readonly url: string;
  readonly requests: RawRequest[];
  count(): number;
  script(s: RawScript): void;
  close(): Promise<void>;
}

export async function startHostileOrigin(script: RawScript): Promise<HostileOrigin> {
  let current = script;
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = "";
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const req = parseHead(head);
        requests.push(req);
        Promise.resolve(current(socket, req)).catch(() => socket.destroy());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: () => requests.length,
    script(s) {
      current = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function parseHead(head: string): RawRequest {
  const [line = "", ...fields] = head.split("\r\n");
  const [method = "", target = ""] = line.split(" ");
  const headers: Record<string, string> = Object.create(null);
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon < 0) continue;
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { method, target, headers };
}

/** An HTTP/1.1 response head from a status and fields, as bytes. */
export function head(status: string, fields: Record<string, string> = {}): Buffer {
  const lines = [`HTTP/1.1 ${status}`];
  for (const [name, value] of Object.entries(fields)) lines.push(`${name}: ${value}`);
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
}

/** Write `bytes` in pieces of `size`, `ms` apart (a body that trickles in). */
export async function trickle(socket: Socket, bytes: Buffer, size: number, ms: number) {
  for (let at = 0; at < bytes.length && !socket.destroyed; at += size) {
    socket.write(bytes.subarray(at, at + size));
    await new Promise((r) => setTimeout(r, ms));
  }
}
