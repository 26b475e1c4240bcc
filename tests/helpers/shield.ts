/**
 * A shield for tests: built with the app factory from a config (defaults filled in by the
 * real schema), a clock the test moves, and optionally a real socket on loopback.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CdnConfigInput, parseConfig } from "../../core/config/index.ts";
import { createShield, type Shield } from "../../origin-shield/app.ts";
import { createShieldServer } from "../../origin-shield/transport/server.ts";

export interface TestShield {
  readonly shield: Shield;
  /** Moves the shield's clock (ms). */
  advance(ms: number): void;
  now(): number;
  /** Request through the Hono app factory (no socket). */
  request(path: string, init?: RequestInit & { host?: string }): Promise<Response>;
  /** Listen on 127.0.0.1; returns the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export const CLOCK_START = Date.UTC(2026, 10, 22, 12, 0, 0);

export function testShield(
  originUrl: string,
  overrides: Partial<CdnConfigInput> = {},
  options: { realClock?: boolean } = {},
): TestShield {
  let now = CLOCK_START;
  const config = parseConfig({
    origins: [{ name: "test", url: originUrl, hosts: ["example.com", "127.0.0.1"] }],
    ...overrides,
  });
  const clock = options.realClock ? Date.now : () => now;
  const shield = createShield({ config, now: clock });
  let server: Server | undefined;
  return {
    shield,
    advance(ms) {
      now += ms;
    },
    now: clock,
    request(path, init = {}) {
      const { host = "example.com", ...rest } = init;
      const headers = new Headers(rest.headers);
      if (!headers.has("host")) headers.set("host", host);
      return Promise.resolve(shield.app.request(`http://${host}${path}`, { ...rest, headers }));
    },
    async listen() {
      server = createShieldServer(shield);
      await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async close() {
      if (server !== undefined) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server?.close(() => resolve()));
      }
      await shield.drain();
      await shield.close();
    },
  };
}
