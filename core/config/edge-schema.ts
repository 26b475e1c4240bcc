/**
 * The edge Worker's own settings: where misses go (the shield nodes), how long it waits
 * for each, how many it tries, how long it skips one that failed, the name it signs
 * Cache-Status with, and what each isolate keeps in memory and for how long (which
 * bounds how long a purge can go unseen).
 */

import { originUrl, unique } from "./fields.ts";
import { z } from "./zod.ts";

/**
 * A shield node's base URL, written canonically (no trailing "/"), because the text is
 * what rendezvous hashing scores: `http://a:8080` and `http://a:8080/` must be one node,
 * or the same cluster would route keys differently depending on how it was written.
 */
export const shieldNodeUrl = originUrl.transform((s) => {
  const u = new URL(s);
  const path = u.pathname.replace(/\/+$/, "");
  return `${u.protocol}//${u.host}${path}`;
});

/** RFC 9110 §5.6.2 token, the form a Cache-Status member name is written in (RFC 9211 §2). */
const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/;

const KiB = 1024;
const MiB = 1024 * KiB;

const bytes = z.number().int("must be a whole number of bytes").positive("must be positive");

const MemorySchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Keep hot small objects in each isolate's memory. Default true."),
    maxBytes: bytes
      .max(64 * MiB, "must be ≤ 67108864 (an isolate has 128 MB in all)")
      .default(16 * MiB)
      .describe(
        "Bytes of objects each Worker isolate keeps in memory in front of the Cache API, least recently used evicted first. Default 16777216 (16 MiB).",
      ),
    maxObjectBytes: bytes
      .default(256 * KiB)
      .describe(
        "Largest body the memory tier holds; larger ones are always read from the Cache API. Default 262144 (256 KiB).",
      ),
  })
  .describe("The edge's in-isolate memory tier.");

export const EdgeSchema = z
  .strictObject({
    shieldNodes: z
      .array(shieldNodeUrl)
      .default([])
      .superRefine(unique("shield node"))
      .describe(
        'Base URLs of the origin shield nodes (http or https, e.g. "http://10.0.0.7:8080"). A miss goes to the node that rendezvous hashing of its cache key picks, then the next on failure. Empty: the edge fetches the configured origins directly. The SHIELD_NODES var, when set, replaces this list. Default [].',
      ),
    shieldTimeoutMs: z
      .number()
      .int("must be a whole number of milliseconds")
      .positive("must be positive")
      .max(300_000, "must be ≤ 300000 (five minutes)")
      .default(10_000)
      .describe(
        "How long the edge waits for one shield node's (or, without shields, the origin's) response headers before it tries the next node, ms. The body then streams without a limit. Default 10000.",
      ),
    firstByteTimeoutMs: z
      .number()
      .int("must be a whole number of milliseconds")
      .positive("must be positive")
      .max(300_000, "must be ≤ 300000 (five minutes)")
      .optional()
      .describe(
        "How long the edge waits for a shield node's response headers while another node is left to try, ms; the last node tried still gets shieldTimeoutMs. A node that misses it is marked down like one that timed out (nodeBackoffMs). Unset (the default): every node gets shieldTimeoutMs, because a shield's headers on a miss wait for the origin, and a shorter limit would send every slow but healthy origin answer through a second node (a second origin fetch) and mark a healthy node down. Set it below your origins' slowest answer where they answer quickly (for example 2000), so a node that accepts connections but never answers costs that much, not shieldTimeoutMs.",
      ),
    nodeBackoffMs: z
      .number()
      .int("must be a whole number of milliseconds")
      .positive("must be positive")
      .max(300_000, "must be ≤ 300000 (five minutes)")
      .default(1_000)
      .describe(
        "How long an isolate skips a shield node after it failed (a timeout, a refused connection, or a 5xx without Cache-Status), ms; the time doubles with each further failure in a row, up to nodeMaxBackoffMs, and one answer clears it. A skipped node's keys go to their next node meanwhile; once the time is up the next request for one of them tries it again (one request at a time). Nodes that are all marked are still tried, in the key's order: a mark never fails a request by itself. Default 1000: a node that blipped once is back within a second.",
      ),
    nodeMaxBackoffMs: z
      .number()
      .int("must be a whole number of milliseconds")
      .positive("must be positive")
      .max(3_600_000, "must be ≤ 3600000 (an hour)")
      .default(30_000)
      .describe(
        "The longest an isolate skips a failed shield node before trying it again, ms. Default 30000: a node that is down for good costs one request per isolate every 30 s one timeout, and a node that comes back gets its keys back within 30 s.",
      ),
    maxAttempts: z
      .number()
      .int("must be an integer")
      .min(1, "must be ≥ 1")
      .max(10, "must be ≤ 10")
      .default(2)
      .describe(
        "How many shield nodes one GET or HEAD miss may try, in the key's rendezvous order, when a node times out, refuses the connection, or answers 5xx without a Cache-Status field (no shield answered it). A 5xx that carries Cache-Status (the origin's error relayed by a shield, or the shield's own refusal) is passed on without another attempt. Other methods are sent once. Default 2.",
      ),
    cacheStatusName: z
      .string()
      .regex(TOKEN, "must be a token (RFC 9211 §2), e.g. edge")
      .default("edge")
      .describe(
        'The name of the edge\'s member in Cache-Status (RFC 9211), after the shield\'s: "shield; hit, edge; hit". Default "edge".',
      ),
    maxStoreBytes: bytes
      .max(512 * MiB, "must be ≤ 536870912 (the Cache API's limit per object)")
      .default(32 * MiB)
      .describe(
        "Largest body the edge stores in the Cache API; a larger one streams through unstored (Cache-Status detail=too-large). It also bounds what an isolate buffers while a slow client and the cache read one body at different speeds. Default 33554432 (32 MiB).",
      ),
    memory: MemorySchema.prefault({}),
    isolateCacheMs: z
      .number()
      .int("must be a whole number of milliseconds")
      .min(1, "must be ≥ 1")
      .max(3_600_000, "must be ≤ 3600000 (an hour)")
      .default(1_000)
      .describe(
        "How long an isolate answers from its own memory copy of an entry (edge.memory) before it reads the Cache API again, ms: the longest a purged object can still be served by an isolate that already held it, because a purge through Cloudflare empties the Cache API everywhere but cannot reach an isolate's memory. Freshness still comes from the response's own lifetimes. Default 1000: an object asked for several times a second still costs about one Cache API read a second, and a purge is seen everywhere about a second after Cloudflare confirms it.",
      ),
  })
  .superRefine((edge, ctx) => {
    if (edge.nodeBackoffMs > edge.nodeMaxBackoffMs) {
      ctx.addIssue({
        code: "custom",
        path: ["nodeBackoffMs"],
        message: "must be ≤ nodeMaxBackoffMs",
      });
    }
  })
  .describe("The edge Worker.");
