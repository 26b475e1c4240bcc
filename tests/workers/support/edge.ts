/**
 * Test support for the Worker, inside workerd: an edge built with a fake clock and a
 * cache of its own, a way to wait for its background work (waitUntil), and the control
 * API of the fake shield nodes started by tests/helpers/fake-shield.ts.
 */
import { inject } from "vitest";
import type { CdnConfigInput } from "../../../core/config/index.ts";
import { createEdgeApp } from "../../../workers/app.ts";

declare module "vitest" {
  export interface ProvidedContext {
    fakeShields: string[];
    deadNode: string;
    spareShield: string;
  }
}

export const SHIELDS: readonly string[] = inject("fakeShields");
export const DEAD_NODE: string = inject("deadNode");
/** A fourth node, outside SHIELDS, that tests may black-hole (see hang()). */
export const SPARE_NODE: string = inject("spareShield");

export interface Scripted {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly bodyBase64?: string;
  readonly delayMs?: number;
  readonly hangup?: boolean;
  readonly cutAfterBytes?: number;
  readonly chunked?: boolean;
  readonly byAccept?: boolean;
  readonly byEncoding?: Record<string, string>;
}

export interface Logged {
  /** Arrival order across all fake nodes (tests/helpers/fake-shield.ts). */
  readonly seq: number;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
}

/** A path no other test uses: every test gets its own keys. */
export function uniquePath(suffix = "obj"): string {
  return `/t/${crypto.randomUUID()}/${suffix}`;
}

export async function script(node: string, path: string, ...responses: Scripted[]): Promise<void> {
  const res = await fetch(`${node}/__control/script`, {
    method: "POST",
    body: JSON.stringify({ path, responses }),
  });
  if (res.status !== 204) throw new Error(`scripting ${node} failed: ${res.status}`);
}

/** Black-hole `node` (true): it logs every request and answers none, until false. */
export async function hang(node: string, hanging: boolean): Promise<void> {
  const res = await fetch(`${node}/__control/hang`, {
    method: "POST",
    body: JSON.stringify({ hang: hanging }),
  });
  if (res.status !== 204) throw new Error(`hanging ${node} failed: ${res.status}`);
}

export async function scriptAll(path: string, ...responses: Scripted[]): Promise<void> {
  await Promise.all(SHIELDS.map((n) => script(n, path, ...responses)));
}

export async function received(node: string, path: string): Promise<Logged[]> {
  const res = await fetch(`${node}/__control/log?path=${encodeURIComponent(path)}`);
  return (await res.json()) as Logged[];
}

/** Requests for `path` that reached any fake node. */
export async function receivedAll(path: string): Promise<Logged[]> {
  // Requests for one path may reach different nodes (a POST's key is not the GET's):
  // merged in the order they arrived.
  const all = (await Promise.all(SHIELDS.map((n) => received(n, path)))).flat();
  return all.sort((a, b) => a.seq - b.seq);
}

/** A config document with the test origin, shields and anything else given. */
export function cdnConfig(patch: Partial<CdnConfigInput> = {}): string {
  return JSON.stringify({
    origins: [{ name: "site", url: SHIELDS[0], hosts: ["edge.test", "*.edge.test"] }],
    ...patch,
    edge: { shieldNodes: [...SHIELDS], shieldTimeoutMs: 2_000, ...patch.edge },
  });
}

export interface SentResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly bytes: Uint8Array;
}

export interface TestEdge {
  /** Advance the fake clock. */
  advance(seconds: number): void;
  now(): number;
  /** Send a request (path or URL), read the whole response, then wait for background work. */
  send(target: string, init?: RequestInit): Promise<SentResponse>;
  /** The raw Response, background work not awaited. */
  raw(target: string, init?: RequestInit): Promise<Response>;
  /** Wait for every waitUntil promise so far. */
  settle(): Promise<void>;
  /** The Cache API cache this edge uses (each test edge has its own). */
  cache(): Promise<Cache>;
  /** The request log lines it wrote so far, parsed (workers/observe/request-log.ts). */
  logs(): Record<string, unknown>[];
}

/** `env` adds bindings: vars and secrets (strings), or a binding such as a rate limiter. */
export function testEdge(
  config: string = cdnConfig(),
  env: Record<string, unknown> = {},
): TestEdge {
  // The fake clock starts at the real time (whole seconds), so Date fields the fake
  // shields write agree with it; tests then move it forward at will.
  let t = Math.floor(Date.now() / 1000) * 1000;
  const pending: Promise<unknown>[] = [];
  const cacheName = crypto.randomUUID();
  // Log lines are kept here rather than printed: a test run would print one per request.
  const lines: string[] = [];
  const app = createEdgeApp({
    now: () => t,
    cache: () => caches.open(cacheName),
    log: (line) => void lines.push(line),
  });
  const ctx = {
    waitUntil: (p: Promise<unknown>) => void pending.push(p),
    passThroughOnException: () => {},
    props: {},
  } as unknown as ExecutionContext;
  const settle = async () => {
    while (pending.length > 0) await Promise.allSettled(pending.splice(0));
  };
  const raw = async (target: string, init?: RequestInit) => {
    const url = target.startsWith("http") ? target : `https://edge.test${target}`;
    return app.fetch(new Request(url, init), { CDN_CONFIG: config, ...env }, ctx);
  };
  return {
    advance: (seconds) => {
      t += seconds * 1000;
    },
    now: () => t,
    cache: () => caches.open(cacheName),
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    raw,
    settle,
    async send(target, init) {
      const res = await raw(target, init);
      const bytes = new Uint8Array(await res.arrayBuffer());
      await settle();
      return {
        status: res.status,
        headers: res.headers,
        text: new TextDecoder().decode(bytes),
        bytes,
      };
    },
  };
}

/** Every header a client received, as pairs (to check that nothing internal leaks). */
export function headerNames(headers: Headers): string[] {
  return [...headers.keys()];
}
