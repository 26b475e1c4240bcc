import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { globError, globToRegExp } from "../../../core/rules/index.ts";

const cases: [name: string, glob: string, path: string, matches: boolean][] = [
  // exact
  ["an exact glob matches the same path", "/about", "/about", true],
  ["an exact glob does not match a trailing slash", "/about", "/about/", false],
  ["an exact glob does not match a longer path", "/about", "/about/team", false],
  ["paths are case-sensitive (RFC 3986 §6.2.2.1)", "/About", "/about", false],
  ["the root glob matches only the root", "/", "/", true],
  ["the root glob does not match a page", "/", "/a", false],
  // *
  ["* matches within a segment", "/static/*.css", "/static/site.css", true],
  ["* does not cross a segment", "/static/*.css", "/static/a/site.css", false],
  ["* may match nothing", "/static/*.css", "/static/.css", true],
  ["* as a whole segment matches one segment", "/a/*/c", "/a/b/c", true],
  ["* as a whole segment does not match two", "/a/*/c", "/a/b/b/c", false],
  ["* as a whole segment matches an empty segment", "/a/*/c", "/a//c", true],
  ["two * in a segment", "/*.min.*", "/app.min.js", true],
  ["two * in a segment need both literals", "/*.min.*", "/app.js", false],
  ["three * in a segment", "/*a*b*", "/xxaxxbxx", true],
  ["the middle literal may repeat", "/*ab*b", "/abb", true],
  ["the last literal must end the segment", "/*.jpg", "/a.jpg.html", false],
  // **
  ["/**/x matches x at the top level", "/**/*.jpg", "/a.jpg", true],
  ["/**/x matches x at any depth", "/**/*.jpg", "/a/b/c/d.jpg", true],
  ["/**/*.jpg does not match another extension", "/**/*.jpg", "/a/b.png", false],
  ["/**/*.jpg does not match a directory named .jpg", "/**/*.jpg", "/a.jpg/b", false],
  ["trailing /** matches the directory itself", "/static/**", "/static", true],
  ["trailing /** matches the directory with a slash", "/static/**", "/static/", true],
  ["trailing /** matches everything under it", "/static/**", "/static/a/b/c.js", true],
  [
    "trailing /** does not match a sibling with the same prefix",
    "/static/**",
    "/staticfiles/a",
    false,
  ],
  ["/** matches every path", "/**", "/anything/at/all", true],
  ["/** matches the root", "/**", "/", true],
  ["middle ** matches zero segments", "/a/**/b", "/a/b", true],
  ["middle ** matches several segments", "/a/**/b", "/a/x/y/b", true],
  ["middle ** does not match a partial segment", "/a/**/b", "/a/xb", false],
  ["middle ** needs the last segment", "/a/**/b", "/a/x/b/c", false],
  ["two ** groups in order", "/**/assets/**/*.js", "/x/assets/y/z/app.js", true],
  ["two ** groups: group directly at the start", "/**/assets/**", "/assets", true],
  [
    "two ** groups: group not aligned to a segment does not match",
    "/**/assets/**",
    "/myassets/x",
    false,
  ],
  ["two ** groups: a later occurrence still matches", "/**/a/**/b", "/x/ab/a/b", true],
  ["two ** groups: missing tail", "/**/a/**/b", "/x/a/c", false],
  ["consecutive ** are one", "/a/**/**/b", "/a/b", true],
  ["a group with * between two **", "/**/v*/**/x", "/p/v2/q/x", true],
  // escaping and encoding
  ["regex metacharacters match literally", "/a.b+(c)[d]|^$", "/a.b+(c)[d]|^$", true],
  [
    "braces match their percent-encoded form, as a URL parser writes them",
    "/{e}",
    "/%7Be%7D",
    true,
  ],
  ["a dot is not a wildcard", "/a.b", "/axb", false],
  ["a backslash is a slash, as in a parsed URL", "/a\\b", "/a/b", true],
  [
    "a glob is percent-normalised like a path (RFC 3986 §6.2.2.1)",
    "/caf%c3%a9/*",
    "/caf%C3%A9/x",
    true,
  ],
  ["non-ASCII in a glob matches its UTF-8 encoding", "/café/*", "/caf%C3%A9/x", true],
  ["an escaped unreserved char in a glob is decoded (§6.2.2.2)", "/%7Euser/*", "/~user/x", true],
  ["a space in a glob matches %20", "/my file.txt", "/my%20file.txt", true],
  ["an encoded slash in a glob stays an encoded slash", "/a%2fb", "/a%2Fb", true],
  ["an encoded slash is not a segment separator", "/a/*", "/a/b%2Fc", true],
];

describe("globToRegExp", () => {
  it.each(cases)("%s: %s vs %s → %s", (_name, glob, path, matches) => {
    expect(globToRegExp(glob).test(path)).toBe(matches);
  });

  it("caseInsensitive matches .JPG for *.jpg", () => {
    expect(globToRegExp("/**/*.jpg", { caseInsensitive: true }).test("/Photos/IMG.JPG")).toBe(true);
    expect(globToRegExp("/**/*.jpg").test("/Photos/IMG.JPG")).toBe(false);
  });

  it("throws on an invalid glob", () => {
    expect(() => globToRegExp("a/b")).toThrow(/must start with/);
  });

  it("agrees with a reference matcher on random globs and paths", () => {
    // Reference: segment-wise recursive matching, exponential but obviously right.
    const segMatch = (p: string, s: string): boolean => {
      const parts = p.split("*");
      if (parts.length === 1) return p === s;
      const re = new RegExp(
        `^${parts.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`,
        "s",
      );
      return re.test(s);
    };
    const ref = (ps: string[], ss: string[]): boolean => {
      if (ps.length === 0) return ss.length === 0;
      const [p, ...rest] = ps as [string, ...string[]];
      if (p === "**") {
        for (let i = 0; i <= ss.length; i++) if (ref(rest, ss.slice(i))) return true;
        return false;
      }
      return ss.length > 0 && segMatch(p, ss[0] as string) && ref(rest, ss.slice(1));
    };
    const seg = fc.stringMatching(/^[ab.]{0,3}$/).filter((s) => s !== "." && s !== "..");
    const globSeg = fc.oneof(
      seg,
      fc.constant("*"),
      fc.constant("**"),
      fc.stringMatching(/^[ab]{0,2}\*[ab.]{1,2}(\*[ab]?)?$/),
    );
    fc.assert(
      fc.property(
        fc.array(globSeg, { minLength: 1, maxLength: 5 }),
        fc.array(seg, { minLength: 1, maxLength: 6 }),
        (gs, ss) => {
          const glob = `/${gs.join("/")}`;
          const path = `/${ss.join("/")}`;
          expect(globToRegExp(glob).test(path), `${glob} vs ${path}`).toBe(ref(gs, ss));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("matching time is linear: a hostile path cannot burn CPU", () => {
  // Each pattern backtracks quadratically when translated naively ([^/]*a[^/]*b, .*/a.*/b):
  // seconds on these 60 kB paths. The compiled form takes well under a millisecond.
  const hostile: [glob: string, path: string][] = [
    ["/*a*b", `/${"a".repeat(60_000)}`],
    ["/**/a/**/b", "/a".repeat(30_000)],
    ["/**/*x*y", `/${"xy".repeat(30_000)}x`],
    ["/**/*.jpg", `${"/x.jpg".repeat(10_000)}/y`],
  ];
  it.each(hostile)("%s against a 60 kB path finishes fast", (glob, path) => {
    const re = globToRegExp(glob);
    const started = performance.now();
    expect(re.test(path)).toBe(false);
    expect(performance.now() - started).toBeLessThan(250);
  });
});

describe("globError", () => {
  const errors: [glob: string, fragment: string | null][] = [
    ["/a/*", null],
    ["/**", null],
    ["/", null],
    ["", 'must start with "/"'],
    ["a", 'must start with "/"'],
    ["/a**", "whole path segment"],
    ["/***/a", "whole path segment"],
    ["/a?", '"?"'],
    ["/a#b", '"#"'],
    ["/a/./b", "dot segments"],
    ["/..", "dot segments"],
  ];
  it.each(errors)("%j → %s", (glob, fragment) => {
    const err = globError(glob);
    if (fragment === null) expect(err).toBeNull();
    else expect(err).toContain(fragment);
  });
});
