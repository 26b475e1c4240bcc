/**
 * The origin shield's own settings: memory budget, origin client limits, collapsing and
 * admin. Bounded everything: each limit has a default a small node can live with.
 */

import { addressOrRange, seconds } from "./fields.ts";
import { RateLimitsSchema } from "./rate-limit-schema.ts";
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
      .describe(
        "Connections per origin, and so requests to it at once: a request holds one until its response body is read or dropped. Default 128.",
      ),
    maxQueue: z
      .number()
      .int("must be an integer")
      .min(0, "must be ≥ 0")
      .max(1_000_000, "must be ≤ 1000000")
      .default(1_024)
      .describe(
        "Requests that may wait for a free connection to one origin when all are busy; beyond it a request gets 503 origin_busy with Retry-After at once. Default 1024.",
      ),
    queueTimeoutMs: millis
      .default(5_000)
      .describe(
        "Longest a request waits for a free connection to an origin before it gets 503 origin_busy (or a stale copy within stale-if-error), ms. Default 5000.",
      ),
    retryBudget: z
      .number()
      .min(0, "must be between 0 and 1")
      .max(1, "must be between 0 and 1")
      .default(0.1)
      .describe(
        "Retries on another server of a pool (a GET or HEAD without a body whose connection failed before any answer) as a fraction of the origin's requests over the last 10 s, plus 10 per 10 s so that a quiet origin's failures are retried too; 0 never retries. Bounds the extra load retries add to a pool that is failing as a whole. Default 0.1.",
      ),
  })
  .describe("How the shield talks to origins.");

const ServerSchema = z
  .strictObject({
    headersTimeoutMs: millis
      .default(20_000)
      .describe(
        "Time a client has to send a request's headers, ms; a slower client gets 408 (slow-loris). Default 20000.",
      ),
    requestTimeoutMs: millis
      .default(300_000)
      .describe("Time a client has to send a whole request, body included, ms. Default 300000."),
    keepAliveTimeoutMs: millis
      .default(5_000)
      .describe("How long an idle keep-alive connection stays open, ms. Default 5000."),
    sendTimeoutMs: millis
      .default(10_000)
      .describe(
        "How long a response may wait on a client that takes none of its bytes before the connection is closed, ms (like nginx's send_timeout). Progress is checked every sendTimeoutMs, so a client that stops reading is cut between one and two of them later, and one that keeps reading is not cut. A stalled reader never holds an origin connection, or the fill of an object other clients read, longer than that. Default 10000.",
      ),
    maxConnections: z
      .number()
      .int("must be an integer")
      .positive("must be positive")
      .max(1_000_000, "must be ≤ 1000000")
      .default(16_384)
      .describe(
        "Client connections the node accepts at once; more are refused until some close. Default 16384.",
      ),
  })
  .superRefine((s, ctx) => {
    if (s.headersTimeoutMs > s.requestTimeoutMs) {
      ctx.addIssue({
        code: "custom",
        path: ["headersTimeoutMs"],
        message: "must be ≤ requestTimeoutMs",
      });
    }
  })
  .describe("The shield's own HTTP server: limits on what clients may hold.");

const TablesSchema = z
  .strictObject({
    hitForMissBytes: bytes
      .default(16 * MiB)
      .describe(
        "Bytes of the table of keys known to be uncacheable (hit-for-miss), keys included; least recently used forgotten first. Default 16777216 (16 MiB).",
      ),
    imageVariantsBytes: bytes
      .default(16 * MiB)
      .describe(
        "Bytes of the table of variants made per source image (images.limits.maxVariantsPerSource), URLs included; least recently used sources forgotten first. Default 16777216 (16 MiB).",
      ),
    imageUrlsBytes: bytes
      .default(8 * MiB)
      .describe(
        "Bytes of the memo of transform URLs already resolved (by URL and Accept; URLs over 2 KiB are resolved each time instead); least recently used forgotten first. Default 8388608 (8 MiB).",
      ),
    targetsBytes: bytes
      .default(4 * MiB)
      .describe(
        "Bytes of the memo of request targets already parsed, normalised and routed (by target and Host; targets over 2 KiB are prepared each time instead), which spares a hit most of its URL work; least recently used forgotten first. Default 4194304 (4 MiB).",
      ),
    rateLimitBytes: bytes
      .default(8 * MiB)
      .describe(
        "Bytes of the table of token buckets of shield.rateLimits (one per rule and client address, about 250 bytes each); least recently used forgotten first, and a forgotten bucket starts again full. Default 8388608 (8 MiB).",
      ),
  })
  .describe(
    "Tables keyed by what clients send, each bounded in bytes (shown in /__shield/metrics as shield_table_bytes and shield_table_max_bytes).",
  );

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

const DiskSchema = z
  .strictObject({
    dir: z
      .string()
      .min(1, "must not be empty")
      .describe(
        "Directory of the disk tier's files (created when missing; use one directory per node). Its index is rebuilt from the files at start-up while the node serves.",
      ),
    maxBytes: bytes
      .default(10 * 1024 * MiB)
      .describe(
        "Byte budget of the disk tier; least recently used files are deleted beyond it. Default 10737418240 (10 GiB).",
      ),
    maxObjectBytes: bytes
      .optional()
      .describe(
        "Largest response body the disk tier stores; bodies over shield.memory.maxObjectBytes are streamed from disk rather than held in memory. Default 1073741824 (1 GiB), or maxBytes when that is smaller.",
      ),
  })
  .superRefine((d, ctx) => {
    if (d.maxObjectBytes !== undefined && d.maxObjectBytes > d.maxBytes) {
      ctx.addIssue({ code: "custom", path: ["maxObjectBytes"], message: "must be ≤ maxBytes" });
    }
  })
  .transform((d) => ({
    ...d,
    maxObjectBytes: d.maxObjectBytes ?? Math.min(1024 * MiB, d.maxBytes),
  }))
  .describe(
    "Disk tier below memory: survives a restart; hits are promoted to memory. Absent: no disk tier. A disk that fills up or fails is reported in health and metrics while the node keeps serving from memory.",
  );

const RedisSchema = z
  .strictObject({
    url: z
      .string()
      .refine(
        (s) => /^rediss?:\/\//i.test(s) && URL.canParse(s),
        "must be a redis:// or rediss:// URL",
      )
      .describe(
        'Redis shared by every shield node, e.g. "redis://10.0.0.9:6379". The SHIELD_REDIS_URL environment variable overrides it (and, when set, turns the Redis tier on).',
      ),
    keyPrefix: z
      .string()
      .max(64, "must be at most 64 characters")
      .regex(/^[A-Za-z0-9:_.-]*$/, "must use only letters, digits and : _ . -")
      .default("cdn:")
      .describe(
        'Prefix of every Redis key and pub/sub channel, so several clusters can share one Redis. Default "cdn:".',
      ),
    maxObjectBytes: bytes
      .max(512 * MiB, "must be ≤ 536870912 (Redis's largest string)")
      .default(MiB)
      .describe(
        "Largest response body stored in Redis; larger ones stay in the node's own tiers (nodes waiting on another node's fetch of such an object fetch it themselves once that fetch ends). Default 1048576 (1 MiB).",
      ),
    timeoutMs: millis
      .max(10_000, "must be ≤ 10000")
      .default(50)
      .describe(
        "Longest any Redis call may take before the node gives up on it and carries on with its own tiers, ms. A Redis that is down, slow or flapping never fails a request. Default 50.",
      ),
    leaseMs: millis
      .default(15_000)
      .describe(
        "How long one node's claim to fetch a key for the whole cluster lasts before another node may take over (renewed while the fetch runs), ms. Nodes waiting on it wait at most the origin's own timeouts. Default 15000.",
      ),
  })
  .describe(
    "Redis tier shared by every shield node: objects stored by one node are hits on all; a miss is fetched from the origin by one node for the whole cluster (a lease per key); purges reach every node. Absent: each node stands alone.",
  );

const CloudflareSchema = z
  .strictObject({
    zoneId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, "must be a Cloudflare zone ID (32 hexadecimal characters)")
      .describe(
        "Zone whose edge cache a purge also clears, through Cloudflare's purge_cache API. Needs the CLOUDFLARE_API_TOKEN environment variable: an API token with the Zone → Cache Purge permission for this zone.",
      ),
    apiBase: z
      .string()
      .refine((s) => /^https?:\/\//i.test(s) && URL.canParse(s), "must be an http(s) URL")
      .default("https://api.cloudflare.com/client/v4")
      .describe(
        'Base URL of the Cloudflare API. Default "https://api.cloudflare.com/client/v4"; tests point it at a local fake.',
      ),
  })
  .describe(
    "Purge the edge too: each POST /__shield/purge is also sent to Cloudflare. Absent: the edge is not purged (its entries expire with their TTL).",
  );

const EdgeAuthSchema = z
  .strictObject({
    secret: z
      .string()
      .min(32, "must be at least 32 characters (e.g. openssl rand -base64 32)")
      .describe(
        "The secret shared with the edge Worker (its EDGE_SHIELD_SECRET). Prefer the SHIELD_EDGE_SECRET environment variable to writing it in a file.",
      ),
    maxAgeSeconds: z
      .number()
      .int("must be a whole number of seconds")
      .min(1, "must be ≥ 1")
      .max(600, "must be ≤ 600")
      .default(60)
      .describe(
        "How long a signature is accepted after the time it carries, seconds of this node's clock. It bounds how long a captured request can be replayed. Default 60.",
      ),
    maxSkewSeconds: z
      .number()
      .int("must be a whole number of seconds")
      .min(0, "must be ≥ 0")
      .max(300, "must be ≤ 300")
      .default(10)
      .describe(
        "How far in the future a signature's time may be (this node's clock behind the edge's), seconds. Default 10.",
      ),
  })
  .describe(
    "Accept proxy requests only from the edge Worker: each must carry a valid CDN-Edge-Signature (HMAC-SHA256 over method, target, X-Forwarded-Host and time), or it gets 403 edge_signature_required, edge_signature_expired or bad_edge_signature. /__shield/health stays open; /__shield/metrics then needs the signature or the purge token; purge keeps its token. Absent (and no SHIELD_EDGE_SECRET): no signature is asked for.",
  );

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
    server: ServerSchema.prefault({}),
    tables: TablesSchema.prefault({}),
    disk: DiskSchema.optional(),
    redis: RedisSchema.optional(),
    cloudflare: CloudflareSchema.optional(),
    rateLimits: RateLimitsSchema,
    trustedProxies: z
      .array(addressOrRange)
      .default([])
      .describe(
        'Addresses or CIDR ranges of proxies in front of the shield (the edge, a load balancer) whose X-Forwarded-For is believed, back to the first address that is not one of them. Default []: every client\'s X-Forwarded-For is replaced by its own address. Example: ["10.0.0.0/8"].',
      ),
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
    edgeAuth: EdgeAuthSchema.optional(),
  })
  .describe("Origin shield settings (ignored by the edge).");
