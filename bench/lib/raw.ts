/**
 * A minimal HTTP/1.1 client over raw keep-alive sockets, for the stampede benchmark:
 * `send` writes a prepared request at once (node:http's client queues a burst of requests
 * and writes them only after the loop that made them, adding its own tens of ms to every
 * latency) and resolves at the response's last body byte (its time: when the socket
 * handed it over). Content-Length and chunked
 * bodies; one request at a time per connection.
 */
import { connect, type Socket } from "node:net";

export interface RawAnswer {
  /** From the write of the request to the last byte of the body, ms. */
  readonly ms: number;
  /** When the last byte was handed over (performance.now()). */
  readonly at: number;
  readonly status: number;
  /** Lowercase names; a repeated field keeps its last value. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

interface Pending {
  readonly t0: number;
  readonly resolve: (a: RawAnswer) => void;
  readonly reject: (e: Error) => void;
}

const CRLFCRLF = Buffer.from("\r\n\r\n");

export class RawClient {
  readonly #socket: Socket;
  readonly #host: string;
  #pending: Pending | null = null;
  #buf: Buffer = Buffer.alloc(0);
  #head: { status: number; headers: Map<string, string> } | null = null;
  #body: Buffer[] = [];
  #at = 0;

  private constructor(socket: Socket, host: string) {
    this.#socket = socket;
    this.#host = host;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#fail(err));
    socket.on("close", () => this.#fail(new Error("connection closed")));
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => resolve(new RawClient(socket, `127.0.0.1:${port}`)));
      socket.once("error", reject);
    });
  }

  /** GET `path`; the latency clock starts immediately before the write. */
  get(path: string): Promise<RawAnswer> {
    if (this.#pending !== null) return Promise.reject(new Error("request already in flight"));
    const request = `GET ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.#pending = { t0: performance.now(), resolve, reject };
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #fail(err: Error): void {
    const p = this.#pending;
    this.#pending = null;
    p?.reject(err);
  }

  #onData(chunk: Buffer): void {
    // The clock is read as the bytes are handed over, before any parsing: with a thousand
    // answers arriving at once, this client's own work on earlier ones is not counted
    // against the server (it still delays the handing over of later ones).
    this.#at = performance.now();
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#head === null) {
      const end = this.#buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      const lines = this.#buf.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(lines[0]?.split(" ")[1]);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      this.#head = { status, headers };
      this.#buf = this.#buf.subarray(end + 4);
    }
    const { headers } = this.#head;
    const length = headers.get("content-length");
    if (length !== undefined) {
      if (this.#buf.length < Number(length)) return;
      this.#done(this.#buf.subarray(0, Number(length)), this.#buf.subarray(Number(length)));
    } else if (headers.get("transfer-encoding")?.includes("chunked")) {
      for (;;) {
        const eol = this.#buf.indexOf("\r\n");
        if (eol < 0) return;
        const size = Number.parseInt(this.#buf.subarray(0, eol).toString("latin1"), 16);
        if (this.#buf.length < eol + 2 + size + 2) return;
        if (size === 0) {
          this.#done(Buffer.concat(this.#body), this.#buf.subarray(eol + 4));
          return;
        }
        this.#body.push(this.#buf.subarray(eol + 2, eol + 2 + size));
        this.#buf = this.#buf.subarray(eol + 2 + size + 2);
      }
    } else {
      this.#fail(new Error("response without Content-Length or chunked encoding"));
    }
  }

  #done(body: Buffer, rest: Buffer): void {
    const ms = this.#at - (this.#pending?.t0 ?? 0);
    const head = this.#head!;
    const p = this.#pending;
    this.#pending = null;
    this.#head = null;
    this.#body = [];
    this.#buf = rest;
    p?.resolve({
      ms,
      at: this.#at,
      status: head.status,
      headers: head.headers,
      body: Buffer.from(body),
    });
  }
}
