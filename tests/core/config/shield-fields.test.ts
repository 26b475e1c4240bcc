/**
 * Shield settings checked when the config is read: trusted proxy addresses and ranges,
 * and the server's timeouts. A bad value stops startup with the field's path.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigIssue, parseConfig } from "../../../core/config/index.ts";

const ORIGIN = { name: "main", url: "https://origin.example.com", hosts: ["www.example.com"] };

function issuesOf(shield: Record<string, unknown>): readonly ConfigIssue[] {
  try {
    parseConfig({ origins: [ORIGIN], shield });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

const ADDRESS_MESSAGE = 'must be an IP address or a CIDR range such as "10.0.0.0/8" or "::1/128"';

describe("shield.trustedProxies", () => {
  it.each([
    "10.0.0.1",
    "255.255.255.255",
    "0.0.0.0/0",
    "10.0.0.0/8",
    "192.168.1.0/24",
    "203.0.113.7/32",
    "::1",
    "::1/128",
    "::/0",
    "2001:db8::/32",
    "2001:DB8:0:0:0:0:0:1",
    "fe80::1/64",
    "::ffff:10.0.0.1",
  ])("accepts %s", (value) => {
    const c = parseConfig({ origins: [ORIGIN], shield: { trustedProxies: [value] } });
    expect(c.shield.trustedProxies).toEqual([value]);
  });

  it.each([
    ["10.0.0.0/33", "a prefix longer than an IPv4 address"],
    ["::1/129", "a prefix longer than an IPv6 address"],
    ["1.2.3", "three octets"],
    ["256.0.0.1", "an octet above 255"],
    ["example.com", "a hostname"],
    ["10.0.0.0/8/1", "two prefix lengths"],
    ["10.0.0.0/", "an empty prefix length"],
    ["10.0.0.0/-1", "a negative prefix length"],
    ["10.0.0.1:8080", "an address with a port"],
    ["[::1]", "an IPv6 address in brackets"],
    ["fe80::1%eth0", "an IPv6 address with a zone"],
    ["1::2::3", "two ::"],
    ["", "an empty string"],
    [" 10.0.0.1", "leading whitespace"],
  ])("refuses %j (%s), naming the entry", (value) => {
    expect(issuesOf({ trustedProxies: ["10.0.0.0/8", value] })).toEqual([
      { path: "shield.trustedProxies[1]", message: ADDRESS_MESSAGE },
    ]);
  });

  it("reports every bad entry at once", () => {
    expect(
      issuesOf({ trustedProxies: ["1.2.3", "::1", "example.com"] }).map((i) => i.path),
    ).toEqual(["shield.trustedProxies[0]", "shield.trustedProxies[2]"]);
  });

  it("defaults to none", () => {
    expect(parseConfig({ origins: [ORIGIN] }).shield.trustedProxies).toEqual([]);
  });
});

describe("shield.server: a request's headers must be due no later than the whole request", () => {
  it.each<[server: Record<string, number>, ok: boolean]>([
    [{}, true],
    [{ headersTimeoutMs: 1_000, requestTimeoutMs: 1_000 }, true],
    [{ headersTimeoutMs: 999, requestTimeoutMs: 1_000 }, true],
    [{ headersTimeoutMs: 1_001, requestTimeoutMs: 1_000 }, false],
    // Against the other's default: 20000 ms for headers, 300000 ms for the request.
    [{ headersTimeoutMs: 300_000 }, true],
    [{ headersTimeoutMs: 300_001 }, false],
    [{ requestTimeoutMs: 20_000 }, true],
    [{ requestTimeoutMs: 19_999 }, false],
  ])("%j → valid: %s", (server, ok) => {
    expect(issuesOf({ server })).toEqual(
      ok ? [] : [{ path: "shield.server.headersTimeoutMs", message: "must be ≤ requestTimeoutMs" }],
    );
  });
});
