import { describe, expect, it } from "vitest";
import {
  CONDITIONAL_FIELDS,
  forwardRequestHeaders,
  type HeaderPairs,
  isConditionalField,
  isNotModified,
  withoutConditionals,
} from "../../../core/policy/index.ts";

describe("the conditional request fields (RFC 9110 §13.1): one list for both tiers", () => {
  it("lists the five preconditions, lowercase", () => {
    expect([...CONDITIONAL_FIELDS].sort()).toEqual([
      "if-match",
      "if-modified-since",
      "if-none-match",
      "if-range",
      "if-unmodified-since",
    ]);
  });

  it.each([
    ["If-None-Match", true],
    ["if-modified-since", true],
    ["IF-MATCH", true],
    ["If-Unmodified-Since", true],
    ["If-Range", true],
    ["Range", false],
    ["ETag", false],
    ["If-Whatever", false],
  ])("%s is conditional: %s", (name, expected) => {
    expect(isConditionalField(name)).toBe(expected);
  });

  it("withoutConditionals drops them, whatever their case, and keeps the rest in order", () => {
    const fields: HeaderPairs = [
      ["Accept", "*/*"],
      ["If-None-Match", '"a"'],
      ["if-modified-since", "Thu, 01 Jan 2026 00:00:00 GMT"],
      ["range", "bytes=0-1"],
      ["x-a", "1"],
    ];
    expect(withoutConditionals(fields)).toEqual([
      ["accept", "*/*"],
      ["range", "bytes=0-1"],
      ["x-a", "1"],
    ]);
  });

  it("a fetch for the cache drops exactly the list and Range", () => {
    const client: HeaderPairs = [...CONDITIONAL_FIELDS].map((n) => [n, "x"]);
    client.push(["range", "bytes=0-1"], ["accept", "*/*"]);
    const sent = forwardRequestHeaders(client, {
      method: "GET",
      forCache: true,
      via: "edge",
      host: "h.example",
      proto: "https",
      forwardedFor: null,
    });
    expect(sent.filter(([n]) => n === "accept" || n.startsWith("if-") || n === "range")).toEqual([
      ["accept", "*/*"],
    ]);
  });

  it("isNotModified is false at once for a request with neither validator field", () => {
    // The stored fields are not read: a throwing list proves it.
    const stored = new Proxy([] as HeaderPairs, {
      get() {
        throw new Error("stored fields were read");
      },
    });
    const request = { method: "GET", headers: new Headers({ "if-match": '"a"' }) };
    expect(isNotModified(request, stored)).toBe(false);
  });
});
