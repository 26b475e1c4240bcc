/**
 * Shared set-up for the shield semantics tests: one loopback origin and one test shield
 * per test, both closed after it.
 */
import { afterEach } from "vitest";
import type { CdnConfigInput } from "../../core/config/index.ts";
import { type OriginHandler, startOrigin, type TestOrigin } from "../helpers/origin.ts";
import { type TestShield, testShield } from "../helpers/shield.ts";

export interface Harness {
  start(
    handler?: OriginHandler,
    overrides?: Partial<CdnConfigInput>,
  ): Promise<{ origin: TestOrigin; t: TestShield }>;
}

/** Call at the top level of a test file: registers the afterEach that closes both. */
export function harness(): Harness {
  let origin: TestOrigin | undefined;
  let t: TestShield | undefined;
  afterEach(async () => {
    await t?.close();
    await origin?.close();
    t = undefined;
    origin = undefined;
  });
  return {
    async start(handler, overrides = {}) {
      origin = await startOrigin(handler);
      t = testShield(origin.url, overrides);
      return { origin, t };
    },
  };
}

/** An IMF-fixdate (RFC 9110 §5.6.7) for a clock value. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** The origin's responses as a list: each request takes the next (the last repeats). */
export function sequence(
  ...responses: { status?: number; headers?: Record<string, string>; body?: string }[]
): OriginHandler {
  let i = 0;
  return (_req, res) => {
    const r = responses[Math.min(i++, responses.length - 1)] ?? {};
    res.writeHead(r.status ?? 200, r.headers ?? {});
    res.end(r.body ?? "");
  };
}

/**
 * A request whose body is read to the end, then every origin fetch it started is
 * waited for: what it filled is stored before the test moves the clock.
 */
export async function fill(
  t: TestShield,
  path: string,
  init?: RequestInit & { host?: string },
): Promise<{ res: Response; body: string }> {
  const res = await t.request(path, init);
  const body = await res.text();
  await t.shield.drain();
  return { res, body };
}

/** Polls until `cond` holds (real time, 5 ms steps); fails after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
