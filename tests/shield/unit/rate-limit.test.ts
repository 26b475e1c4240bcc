/**
 * The parts of the shield's rate limits that are plain functions: token bucket arithmetic
 * (limit/buckets.ts), the byte bound of the bucket table, and whose bucket a request
 * takes from (limit/client-key.ts: an IPv6 client by its /64).
 */
import { describe, expect, it } from "vitest";
import { BucketTable, refill, secondsToToken } from "../../../origin-shield/limit/buckets.ts";
import { clientKey, ipv6Prefix64 } from "../../../origin-shield/limit/client-key.ts";

const SHAPE = { ratePerSecond: 2, burst: 4 };

describe("a token bucket", () => {
  it("starts full, gains ratePerSecond a second, never beyond burst", () => {
    const table = new BucketTable(1 << 20);
    const bucket = table.get("a", SHAPE, 1_000);
    expect(bucket.tokens).toBe(4);
    bucket.tokens = 0;
    refill(bucket, SHAPE, 1_250);
    expect(bucket.tokens).toBe(0.5);
    refill(bucket, SHAPE, 61_250);
    expect(bucket.tokens).toBe(4);
    // A clock that goes back takes nothing away.
    refill(bucket, SHAPE, 1_000);
    expect(bucket.tokens).toBe(4);
  });

  it("says how long until the next whole token, in whole seconds, at least one", () => {
    expect(secondsToToken({ tokens: 0.5, at: 0 }, SHAPE)).toBe(1);
    expect(secondsToToken({ tokens: 0, at: 0 }, { ratePerSecond: 0.1, burst: 1 })).toBe(10);
    expect(secondsToToken({ tokens: 0.5, at: 0 }, { ratePerSecond: 0.125, burst: 1 })).toBe(4);
  });

  it("lives in a table that forgets the least recently used beyond its bytes", () => {
    const table = new BucketTable(10_000);
    for (let i = 0; i < 1_000; i++) table.get(`rule\n10.0.${i >> 8}.${i & 255}`, SHAPE, i);
    expect(table.bytes).toBeLessThanOrEqual(10_000);
    expect(table.size).toBeGreaterThan(30);
    expect(table.size).toBeLessThan(50);
    // A forgotten bucket starts again full.
    const first = table.get("rule\n10.0.0.0", SHAPE, 2_000);
    expect(first.tokens).toBe(4);
  });
});

describe("whose bucket", () => {
  it("is the first address of the chain this node vouches for", () => {
    expect(clientKey("198.51.100.7, 10.0.0.5")).toBe("198.51.100.7");
    expect(clientKey("198.51.100.7")).toBe("198.51.100.7");
    expect(clientKey(null)).toBe("unknown");
  });

  it("groups an IPv6 client by its /64, however it is written", () => {
    const key = "2001:db8:0:0::/64";
    for (const address of [
      "2001:db8::1",
      "2001:db8::abcd:1234:5678:9",
      "2001:0DB8:0000:0000:ffff:0000:0000:0001",
      "2001:db8:0:0:1::",
    ]) {
      expect(clientKey(`${address}, 10.0.0.5`), address).toBe(key);
    }
    expect(ipv6Prefix64("2001:db8:0:1::1")).toBe("2001:db8:0:1::/64");
    expect(ipv6Prefix64("::1")).toBe("0:0:0:0::/64");
    expect(ipv6Prefix64("fe80::")).toBe("fe80:0:0:0::/64");
    expect(ipv6Prefix64("::ffff:192.0.2.1")).toBe("0:0:0:0::/64");
  });
});
