/**
 * Accept-Encoding in the agreement table (tests/shared/agreement.ts): both tiers reduce
 * it to the one coding they will send (core/http/accept-encoding.ts) and key the stored
 * variant by it, so the two must pick the same coding for every value, or a client would
 * get one coding from the edge and another from the shield for the same URL.
 */
import { preferredCoding } from "../../core/http/index.ts";

/** A row of the agreement table, as AgreementCase in agreement.ts (see agreement-variant.ts). */
interface AgreementCase {
  readonly name: string;
  readonly run: () => unknown;
  readonly expected: unknown;
}

const rows: readonly [string, string | null, string][] = [
  ["absent: the client said nothing, identity", null, "identity"],
  ["empty: identity only", "", "identity"],
  ["Chrome's value: br", "gzip, deflate, br, zstd", "br"],
  ["order and case do not matter", "BR,GZIP", "br"],
  ["gzip only", "gzip", "gzip"],
  ["x-gzip is gzip", "x-gzip", "gzip"],
  ["a higher weight wins over br", "br;q=0.5, gzip;q=0.8", "gzip"],
  ["br excluded", "gzip, br;q=0", "gzip"],
  ["star covers unlisted codings", "*", "br"],
  ["star with gzip excluded", "*, gzip;q=0", "br"],
  ["star with br excluded", "*;q=0.5, br;q=0", "gzip"],
  ["only codings this CDN does not make", "deflate, zstd", "identity"],
  ["identity preferred by weight", "gzip;q=0.2, identity", "identity"],
  ["identity excluded, gzip allowed", "gzip;q=0.1, identity;q=0", "gzip"],
  ["everything excluded: identity is still sent", "*;q=0", "identity"],
  ["a weight that does not parse ignores its member", "br;q=2, gzip", "gzip"],
  ["spaces around the weight", "br ; q = 0.9 , gzip ; q = 1", "gzip"],
  ["a weight of 1.000", "br;q=1.000", "br"],
  ["a fourth decimal does not parse", "br;q=0.0001, gzip;q=0.1", "gzip"],
  ["a member listed twice keeps its higher weight", "br;q=0, br;q=0.5", "br"],
  ["members beyond 64 are not read", `${"x,".repeat(70)}br`, "identity"],
];

export const encodingAgreementCases: readonly AgreementCase[] = rows.map(
  ([name, value, expected]) => ({
    name: `accept-encoding: ${name}`,
    run: () => preferredCoding(value),
    expected,
  }),
);
