/**
 * The edge Worker's own settings: where misses go (the shield nodes), how long it waits
 * for each, how many it tries, and the name it signs Cache-Status with.
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
        "How many shield nodes one GET or HEAD miss may try, in the key's rendezvous order, when a node times out, refuses the connection or answers 5xx. Other methods are sent once. Default 2.",
      ),
    cacheStatusName: z
      .string()
      .regex(TOKEN, "must be a token (RFC 9211 §2), e.g. edge")
      .default("edge")
      .describe(
        'The name of the edge\'s member in Cache-Status (RFC 9211), after the shield\'s: "shield; hit, edge; hit". Default "edge".',
      ),
  })
  .describe("The edge Worker.");
