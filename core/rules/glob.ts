/**
 * Path globs compiled to regular expressions that run in linear time.
 *
 * Syntax (matched against a normalised path, see core/key/normalise-url.ts):
 * - `*` matches any run of characters within one segment (not "/"), possibly empty;
 * - `**` as a whole segment matches zero or more segments: `/a/**\/b` matches `/a/b`
 *   and `/a/x/y/b`; a trailing `/**` matches the directory itself and everything
 *   under it (`/static/**` matches `/static`, `/static/` and `/static/a/b`);
 * - every other character matches itself, case-sensitively (RFC 3986 §6.2.2.1: paths
 *   are case-sensitive). The glob's percent-encoding is normalised like a request path,
 *   so `/caf%c3%a9/*`, `/caf%C3%A9/*` and `/café/*` are the same glob.
 *
 * Why the output is linear: a naive translation (`[^/]*a[^/]*b`, `.*x.*y`) backtracks
 * polynomially, which a hostile path of a few kilobytes turns into a CPU-burning request.
 * Here every segment can match a given start position in at most one way: the literal
 * between two stars is found at its leftmost occurrence inside an atomic group
 * (`(?=(…))\N`, since JS lookaheads never backtrack into), which is optimal for
 * wildcards; so is placing each group of segments between two `**` at its leftmost
 * segment-aligned position. Only the part after the last `**` backtracks, over "/"
 * positions, and each attempt costs at most the length of its own segments.
 */
import { normalisePercentEncoding } from "../key/percent-encoding.ts";

/** Why a glob is invalid, or null when it is valid. Used by the config schema. */
export function globError(glob: string): string | null {
  if (!glob.startsWith("/")) return 'must start with "/"';
  if (glob.includes("?") || glob.includes("#")) {
    return 'must not contain "?" or "#" (a path never does; query strings are not matched)';
  }
  for (const seg of glob.slice(1).split("/")) {
    if (seg !== "**" && seg.includes("**"))
      return '"**" must be a whole path segment, like /a/**/b';
    if (seg === "." || seg === "..")
      return "must not contain dot segments (normalised paths never do)";
  }
  return null;
}

/**
 * Write a glob the way its matching paths are written after normalisation: through the
 * same URL parser (non-ASCII → UTF-8 escapes, space → %20, "\\" → "/", …) and the same
 * percent-encoding normalisation. `*`, the only special character, is never encoded.
 */
function normaliseGlob(glob: string): string {
  return normalisePercentEncoding(new URL(`http://h${glob}`).pathname);
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

export interface GlobOptions {
  /** Match letters case-insensitively (used for image extensions such as `.JPG`). */
  readonly caseInsensitive?: boolean;
}

/**
 * Compile a glob to an anchored RegExp. Throws on an invalid glob (validate with
 * `globError` first; the config schema does).
 */
export function globToRegExp(glob: string, options: GlobOptions = {}): RegExp {
  const error = globError(glob);
  if (error !== null) throw new Error(`invalid glob ${JSON.stringify(glob)}: ${error}`);
  let group = 0; // capture-group counter for the atomic-group backreferences

  // One segment, without its leading "/": literals with `*` wildcards in between.
  const segment = (seg: string): string => {
    const parts = seg.split("*").map(escapeRegExp);
    if (parts.length === 1) return parts[0] as string;
    let re = parts[0] as string;
    for (let i = 1; i < parts.length - 1; i++) {
      group++;
      re += `(?=([^/]*?${parts[i] as string}))\\${group}`; // leftmost occurrence, atomically
    }
    return `${re}[^/]*${parts[parts.length - 1] as string}`;
  };
  const sequence = (segs: readonly string[]): string => segs.map((s) => `/${segment(s)}`).join("");

  // Split into groups of segments separated by `**`; consecutive `**` are one.
  const groups: string[][] = [[]];
  let prevStar = false;
  for (const seg of normaliseGlob(glob).slice(1).split("/")) {
    if (seg === "**") {
      if (!prevStar) groups.push([]);
      prevStar = true;
    } else {
      (groups[groups.length - 1] as string[]).push(seg);
      prevStar = false;
    }
  }

  let re = `^${sequence(groups[0] as string[])}`;
  for (let i = 1; i < groups.length; i++) {
    if (i < groups.length - 1) {
      // A middle group: its leftmost segment-aligned placement, atomically. The outer
      // capture group opens first, so it takes its number before the inner ones.
      const n = ++group;
      re += `(?=((?:/.*?)??${sequence(groups[i] as string[])})(?=/|$))\\${n}`;
    } else {
      // The last group must end the path: greedy, then backtrack over "/" positions.
      re += `(?:/.*)?${sequence(groups[i] as string[])}`;
    }
  }
  return new RegExp(`${re}$`, options.caseInsensitive === true ? "si" : "s");
}
