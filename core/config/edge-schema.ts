/**
 * The edge Worker's own settings: where misses go (the shield nodes), how long it waits
 * for each, how many it tries, the name it signs Cache-Status with, and what each isolate
 * keeps in memory and for how long (which bounds how long a purge can go unseen).
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
  .describe("The edge Worker.");
