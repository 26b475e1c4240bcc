/**
 * Agreement cases for freshening and Cache-Status across hops: the shield answers the
 * edge's revalidation with `notModifiedHeaders`, the edge merges it and checks a HEAD
 * with the same core rules, and each keeps the members upstream caches wrote with
 * `upstreamCacheStatus`. If the two runtimes disagreed, an edge copy would keep fields
 * its shield had already replaced, or show a different fill history than the shield's.
 */
import { upstreamCacheStatus } from "../../core/http/cache-status.ts";
import { notModifiedHeaders } from "../../core/policy/conditional.ts";
import { headSelects } from "../../core/policy/update.ts";
import type { AgreementCase } from "./agreement.ts";

type Pairs = [string, string][];

const stored: Pairs = [
  ["content-type", "text/html"],
  ["content-length", "42"],
  ["content-encoding", "gzip"],
  ["etag", '"v1"'],
  ["last-modified", "Tue, 01 Dec 2026 00:00:00 GMT"],
  ["cache-control", "max-age=60"],
  ["test-header", "2"],
  ["cache-status", "shield; hit"],
];

const entry = (headers: Pairs) => ({ headers });
const reader = (pairs: Pairs) => {
  const h = new Headers(pairs);
  return { get: (name: string) => h.get(name) };
};

export const updateAgreementCases: readonly AgreementCase[] = [
  {
    name: "304 from a stored response: every field a 200 carries but those describing the body",
    run: () => notModifiedHeaders(stored),
    expected: [
      ["etag", '"v1"'],
      ["cache-control", "max-age=60"],
      ["test-header", "2"],
    ],
  },
  {
    name: "304 from a stored response without an ETag keeps Last-Modified",
    run: () => notModifiedHeaders(stored.filter(([n]) => n !== "etag")).map(([n]) => n),
    expected: ["last-modified", "cache-control", "test-header"],
  },
  {
    name: "HEAD selects the stored GET only by matching validators and length (RFC 9111 §4.3.5)",
    run: () => [
      headSelects(entry(stored), reader([["etag", '"v1"']])),
      headSelects(entry(stored), reader([["etag", 'W/"v1"']])),
      headSelects(entry(stored), reader([["etag", '"v2"']])),
      headSelects(entry(stored), reader([["content-length", "42"]])),
      headSelects(
        entry(stored),
        reader([
          ["etag", '"v1"'],
          ["content-length", "43"],
        ]),
      ),
      headSelects(entry(stored), reader([["last-modified", "Tue, 01 Dec 2026 00:00:00 GMT"]])),
    ],
    expected: [true, false, false, false, false, true],
  },
  {
    name: "upstream Cache-Status: own name dropped in any case, junk dropped, canonical form",
    run: () => [
      upstreamCacheStatus("origin-cache; hit, EDGE; hit, shield; fwd=uri-miss; stored", "edge"),
      upstreamCacheStatus("shield; fwd=uri-miss; x-evil=1", "edge"),
      upstreamCacheStatus("shield; hit, ;;;", "edge"),
      upstreamCacheStatus("", "edge"),
      upstreamCacheStatus("x".repeat(20_000), "edge"),
    ],
    expected: [
      "origin-cache; hit, shield; fwd=uri-miss; stored",
      "shield; fwd=uri-miss",
      null,
      null,
      null,
    ],
  },
];
