import { describe, expect, it } from "vitest";
import { formatCacheStatusMember } from "../../../core/http/cache-status.ts";
import {
  type EntryMeta,
  isUpstreamFailure,
  staleOnError,
  type UpstreamFailure,
} from "../../../core/policy/index.ts";
import { SECOND, stored, T0 } from "../../helpers/http.ts";

// Fresh for 60 s, then servable on error until 60 + 120 s.
const entry = stored({ "cache-control": "max-age=60, stale-if-error=120", etag: '"a"' });

function failure(patch: Partial<UpstreamFailure>): UpstreamFailure {
  return {
    entry,
    staleIfError: true,
    status: 503,
    now: T0 + 100 * SECOND,
    cache: "shield",
    ...patch,
  };
}

const member = (f: UpstreamFailure): string | null => {
  const stale = staleOnError(f);
  return stale === null ? null : formatCacheStatusMember(stale.member);
};

describe("stale on upstream failure (RFC 5861 §4, RFC 9111 §4.2.4)", () => {
  it("no response at all, and every 5xx, is a failure; anything else is an answer", () => {
    expect(isUpstreamFailure(null)).toBe(true);
    for (const status of [500, 502, 503, 504, 599]) expect(isUpstreamFailure(status)).toBe(true);
    for (const status of [200, 304, 404, 429, 499]) expect(isUpstreamFailure(status)).toBe(false);
  });

  it("a 5xx within the window: the stored response, with the failed status", () => {
    const stale = staleOnError(failure({}));
    expect(stale?.age).toBe(100);
    expect(member(failure({}))).toBe(
      "shield; fwd=stale; fwd-status=503; ttl=-40; detail=stale-if-error",
    );
  });

  it("no response within the window: the stored response, no fwd-status", () => {
    expect(member(failure({ status: null, cache: "edge" }))).toBe(
      "edge; fwd=stale; ttl=-40; detail=stale-if-error",
    );
  });

  it("the window is checked at the time of the failure", () => {
    expect(staleOnError(failure({ now: T0 + 179 * SECOND }))).not.toBeNull();
    expect(staleOnError(failure({ now: T0 + 180 * SECOND }))).toBeNull();
  });

  it("not when upstream answered: a 4xx or a 304 is passed on", () => {
    expect(staleOnError(failure({ status: 404 }))).toBeNull();
    expect(staleOnError(failure({ status: 304 }))).toBeNull();
  });

  it("not without an entry, or when the decision did not allow it (a miss)", () => {
    expect(staleOnError(failure({ entry: undefined }))).toBeNull();
    expect(staleOnError(failure({ staleIfError: false }))).toBeNull();
  });

  it("not for an entry without a stale-if-error window", () => {
    const strict: EntryMeta = stored({ "cache-control": "max-age=60", etag: '"a"' });
    expect(staleOnError(failure({ entry: strict, now: T0 + 61 * SECOND }))).toBeNull();
  });
});
