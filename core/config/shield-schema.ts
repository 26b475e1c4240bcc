/**
 * The origin shield's own settings: memory budget, origin client limits, collapsing and
 * admin. Bounded everything: each limit has a default a small node can live with.
 */

import { seconds } from "./fields.ts";
import { z } from "./zod.ts";

const MiB = 1024 * 1024;

const bytes = z.number().int("must be a whole number of bytes").positive("must be positive");
const millis = z
  .number()
  .int("must be a whole number of milliseconds")
  .positive("must be positive")
  .max(3_600_000, "must be ≤ 3600000 (one hour)");

const MemorySchema = z
  .strictObject({
    maxBytes: bytes
      .default(256 * MiB)
      .describe(
        "Byte budget of the memory tier: bodies, headers and per-entry bookkeeping. Least recently used entries are evicted beyond it. Default 268435456 (256 MiB).",
      ),
    maxObjectBytes: bytes
      .default(16 * MiB)
      .describe(
        "Largest response body the memory tier stores; a larger one streams through and is not stored (Cache-Status detail=too-large). Default 16777216 (16 MiB).",
      ),
  })
  .superRefine((m, ctx) => {
    if (m.maxObjectBytes > m.maxBytes) {
      ctx.addIssue({ code: "custom", path: ["maxObjectBytes"], message: "must be ≤ maxBytes" });
    }
  })
  .describe("Memory tier.");

const OriginClientSchema = z
  .strictObject({
    connectTimeoutMs: millis
      .default(5_000)
      .describe("Time to open a connection to an origin, ms. Default 5000."),
    headersTimeoutMs: millis
      .default(30_000)
      .describe(
        "Time from sending a request until the origin's response headers, ms. Default 30000.",
      ),
    bodyTimeoutMs: millis
      .default(30_000)
      .describe("Longest silence between two chunks of an origin's body, ms. Default 30000."),
    maxBodyBytes: bytes
      .default(1024 * MiB)
      .describe(
        "Largest origin body the shield relays; beyond it the transfer is cut and nothing is stored. Default 1073741824 (1 GiB).",
      ),
    connections: z
      .number()
      .int("must be an integer")
      .positive("must be positive")
      .max(10_000, "must be ≤ 10000")
      .default(128)
      .describe("Keep-alive connections per origin. Default 128."),
  })
  .describe("How the shield talks to origins.");

const CollapseSchema = z
  .strictObject({
    maxWaiters: z
      .number()
      .int("must be an integer")
      .min(0, "must be ≥ 0")
      .default(10_000)
      .describe(
        "Requests that may wait on one in-flight origin fetch; beyond it a request gets 503 with Retry-After instead of queueing. Default 10000.",
      ),
    uncacheableTtl: seconds
      .default(120)
      .describe(
        "How long a key whose response could not be shared (private, Set-Cookie, not storable) is remembered, so later requests go to the origin at once instead of queueing behind each other (Varnish's hit-for-miss), seconds. A storable response ends it early. Default 120.",
      ),
  })
  .describe("Request collapsing.");

export const ShieldSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "must be a token (it goes into Via)")
      .default("shield")
      .describe(
        'This node\'s name in Via and Cache-Status (RFC 9211 cache name). Default "shield".',
      ),
    memory: MemorySchema.prefault({}),
    origin: OriginClientSchema.prefault({}),
    collapse: CollapseSchema.prefault({}),
    trustForwardedHost: z
      .boolean()
      .default(true)
      .describe(
        "Route by X-Forwarded-Host (sent by the edge) before Host. Either way only configured origins are ever fetched. Default true.",
      ),
    purgeToken: z
      .string()
      .min(16, "must be at least 16 characters")
      .optional()
      .describe(
        "Bearer token for POST /__shield/purge; without one, purge is disabled. Prefer the SHIELD_PURGE_TOKEN environment variable to writing it in a file.",
      ),
  })
  .describe("Origin shield settings (ignored by the edge).");
