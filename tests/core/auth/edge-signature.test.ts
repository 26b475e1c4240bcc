import { describe, expect, it } from "vitest";
import {
  edgeSignedMessage,
  edgeSigningKey,
  parseEdgeSignature,
  signEdgeRequest,
  verifyEdgeSignature,
} from "../../../core/auth/edge-signature.ts";

const SECRET = "a-secret-of-at-least-32-characters!!";
const WINDOW = { maxAgeSeconds: 60, maxSkewSeconds: 10 };
const NOW = 1_767_225_600;
const REQUEST = { method: "GET", target: "/a/b?c=1", forwardedHost: "example.com" };

describe("the edge's request signature", () => {
  it("is `t=<unix>, sig=<43 base64url characters>`, and verifies for the same request", async () => {
    const key = await edgeSigningKey(SECRET);
    const value = await signEdgeRequest(key, REQUEST, NOW);
    expect(value).toMatch(/^t=1767225600, sig=[A-Za-z0-9_-]{43}$/);
    expect(await verifyEdgeSignature(key, value, REQUEST, NOW, WINDOW)).toBe("ok");
  });

  it("is the same for the same request in the same second, whoever signs it", async () => {
    const one = await signEdgeRequest(await edgeSigningKey(SECRET), REQUEST, NOW);
    const two = await signEdgeRequest(await edgeSigningKey(SECRET), REQUEST, NOW);
    expect(one).toBe(two);
  });

  it("covers the method, the target, X-Forwarded-Host and the time", async () => {
    const key = await edgeSigningKey(SECRET);
    const value = await signEdgeRequest(key, REQUEST, NOW);
    const changed = [
      { ...REQUEST, method: "HEAD" },
      { ...REQUEST, target: "/a/b?c=2" },
      { ...REQUEST, target: "/a/b" },
      { ...REQUEST, forwardedHost: "other.example" },
      { ...REQUEST, forwardedHost: null },
    ];
    for (const request of changed) {
      expect(await verifyEdgeSignature(key, value, request, NOW, WINDOW)).toBe("bad");
    }
    const sig = value.slice(value.indexOf("sig="));
    const moved = `t=${NOW - 1}, ${sig}`;
    expect(await verifyEdgeSignature(key, moved, REQUEST, NOW, WINDOW)).toBe("bad");
  });

  it("is refused when made with another secret", async () => {
    const other = await signEdgeRequest(await edgeSigningKey(`${SECRET}x`), REQUEST, NOW);
    const key = await edgeSigningKey(SECRET);
    expect(await verifyEdgeSignature(key, other, REQUEST, NOW, WINDOW)).toBe("bad");
  });

  it("is valid from maxSkewSeconds before its time to maxAgeSeconds after it", async () => {
    const key = await edgeSigningKey(SECRET);
    const value = await signEdgeRequest(key, REQUEST, NOW);
    const at = (now: number) => verifyEdgeSignature(key, value, REQUEST, now, WINDOW);
    expect(await at(NOW - 10)).toBe("ok");
    expect(await at(NOW - 11)).toBe("future");
    expect(await at(NOW + 60)).toBe("ok");
    expect(await at(NOW + 61)).toBe("expired");
  });

  it("tells a missing field from a malformed one", async () => {
    const key = await edgeSigningKey(SECRET);
    expect(await verifyEdgeSignature(key, null, REQUEST, NOW, WINDOW)).toBe("missing");
    const value = await signEdgeRequest(key, REQUEST, NOW);
    const sig = value.slice(value.indexOf("sig=") + 4);
    for (const bad of [
      "",
      `t=${NOW}`,
      `sig=${sig}`,
      `t=${NOW}, sig=${sig}x`,
      `t=${NOW}, sig=${sig.slice(1)}`,
      `t=-${NOW}, sig=${sig}`,
      `t=${NOW}, sig=${sig}, t=${NOW}`,
      `${value}, ${value}`,
    ]) {
      expect(await verifyEdgeSignature(key, bad, REQUEST, NOW, WINDOW), bad).toBe("malformed");
    }
  });

  it("has one spelling per MAC: spare bits in the last character are refused", async () => {
    const value = await signEdgeRequest(await edgeSigningKey(SECRET), REQUEST, NOW);
    expect(parseEdgeSignature(value)).not.toBeNull();
    const last = value.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // The last of 43 characters carries 4 bits of MAC and 2 spare ones.
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
    expect(parseEdgeSignature(`${value.slice(0, -1)}${sibling}`)).toBeNull();
  });

  it("signs one line per part, so no two requests share a message", () => {
    expect(edgeSignedMessage(REQUEST, NOW)).toBe(
      "cdn-edge-v1\nGET\n/a/b?c=1\nexample.com\n1767225600",
    );
    expect(edgeSignedMessage({ ...REQUEST, forwardedHost: null }, NOW)).toBe(
      "cdn-edge-v1\nGET\n/a/b?c=1\n\n1767225600",
    );
  });
});
