import { describe, expect, it } from "vitest";
import { bearerToken, sameSecret } from "../../../core/auth/bearer.ts";

describe("bearerToken (RFC 6750 §2.1)", () => {
  it.each<[authorization: string | null | undefined, token: string | null]>([
    ["Bearer abc.DEF-123_~+/=", "abc.DEF-123_~+/="],
    // The auth-scheme is case-insensitive (RFC 9110 §11.1).
    ["bearer abc", "abc"],
    ["BEARER abc", "abc"],
    ["BeArEr abc", "abc"],
    // Any run of spaces and tabs after the scheme; trailing whitespace is not the token's.
    ["Bearer    abc", "abc"],
    ["Bearer\tabc", "abc"],
    ["Bearer abc \t ", "abc"],
    // No token at all.
    [null, null],
    [undefined, null],
    ["", null],
    ["Bearer", null],
    ["Bearer ", null],
    ["Bearer \t ", null],
    // Not the Bearer scheme.
    ["Basic YWRtaW46c2VjcmV0", null],
    ["Bearerabc", null],
    ["Token abc", null],
    ["XBearer abc", null],
    ["abc", null],
  ])("%j → %j", (authorization, token) => {
    expect(bearerToken(authorization)).toBe(token);
  });
});

describe("sameSecret", () => {
  const SECRET = "s3cret-token-0123456789";

  it.each<[name: string, given: string, expected: string, same: boolean]>([
    ["equal", SECRET, SECRET, true],
    ["equal, non-ASCII", "clé-🔑", "clé-🔑", true],
    ["one character different", `${SECRET.slice(0, -1)}X`, SECRET, false],
    ["a prefix of the secret", SECRET.slice(0, 8), SECRET, false],
    ["the secret and more", `${SECRET}0`, SECRET, false],
    ["another case", SECRET.toUpperCase(), SECRET, false],
    ["empty, against a secret", "", SECRET, false],
    ["a token, against an empty secret", SECRET, "", false],
  ])("%s → %s", async (_, given, expected, same) => {
    await expect(sameSecret(given, expected)).resolves.toBe(same);
  });

  // Equal inputs are equal, even when empty: callers must refuse an empty configured
  // secret themselves, or an empty bearer token would match it.
  it("two empty strings are the same secret", async () => {
    await expect(sameSecret("", "")).resolves.toBe(true);
  });

  it("is asynchronous: it returns a promise, never a boolean", () => {
    const result = sameSecret(SECRET, "other");
    expect(result).toBeInstanceOf(Promise);
    return result;
  });
});
