import { parseVary } from "../http/vary.ts";
import type { HeaderReader } from "./types.ts";

/** The request values a stored response was selected by (RFC 9111 §4.1). */
export interface VaryCapture {
  /** Lowercase field names from the response's Vary, sorted. */
  readonly fields: readonly string[];
  /** Normalised request values, same order as `fields`; null when the field was absent. */
  readonly values: readonly (string | null)[];
  /**
   * The values exactly as that request sent them. Clients of one kind send identical
   * bytes (every Chrome the same Accept-Encoding), so most lookups end at a plain string
   * comparison with these; the normalised comparison is the fallback.
   */
  readonly raw: readonly (string | null)[];
}

/**
 * Fields whose values are case-insensitive lists, so that `GZIP, br` and `gzip,br`
 * select the same response (§4.1 allows normalising by the field's own semantics).
 */
const CASE_INSENSITIVE = new Set([
  "accept",
  "accept-encoding",
  "accept-language",
  "accept-charset",
]);

/** §4.1: combine field lines and normalise whitespace around list separators. */
export function normaliseVaryValue(field: string, value: string | null): string | null {
  if (value === null) return null;
  let out = value.replace(/[ \t]*,[ \t]*/g, ",").trim();
  if (CASE_INSENSITIVE.has(field)) out = out.toLowerCase();
  if (field === "accept-language") out = normaliseWeights(out);
  return out;
}

/**
 * Accept-Language spellings that mean the same to any origin that parses the field as
 * RFC 9110 defines it (§12.4.2, §12.5.4), made one: whitespace around `;` and `=`
 * dropped (`weight = OWS ";" OWS "q=" qvalue`), a weight of 1 dropped (`q=1`, `q=1.0`,
 * `q=1.000` are the default), trailing zeros of a weight dropped (`q=0.50` is `q=0.5`),
 * empty list elements dropped (§5.6.1.2). The order of the languages is kept: where
 * weights tie it is the client's preference, and an origin may read it so. Input is
 * already lower-cased, with no whitespace around commas.
 */
function normaliseWeights(value: string): string {
  if (!/[;, \t]/.test(value)) return value;
  const out: string[] = [];
  for (const element of value.split(",")) {
    if (element === "") continue;
    const parts = element.split(";").map((p) => p.trim().replace(/^q[ \t]*=[ \t]*/, "q="));
    const kept: string[] = [parts[0] ?? ""];
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i] as string;
      const q = /^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.exec(part);
      if (q === null) {
        kept.push(part);
        continue;
      }
      const weight = (q[1] as string).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
      if (weight !== "1") kept.push(`q=${weight}`);
    }
    out.push(kept.join(";"));
  }
  return out.join(",");
}

/**
 * What to remember about the request for a response's Vary: null when the response does
 * not vary, "*" when it varies on everything (it then never matches, §4.1).
 */
export function captureVary(
  responseHeaders: HeaderReader,
  requestHeaders: HeaderReader,
): VaryCapture | "*" | null {
  const vary = parseVary(responseHeaders.get("vary"));
  if (vary === "*") return "*";
  if (vary.length === 0) return null;
  const fields = [...vary].sort();
  const raw = fields.map((f) => requestHeaders.get(f));
  return { fields, values: fields.map((f, i) => normaliseVaryValue(f, raw[i] ?? null)), raw };
}

/** Does this request select the stored response? Absent matches only absent (§4.1). */
export function varyMatches(capture: VaryCapture | null, requestHeaders: HeaderReader): boolean {
  if (capture === null) return true;
  for (let i = 0; i < capture.fields.length; i++) {
    const field = capture.fields[i]!;
    const stored = capture.values[i] ?? null;
    const value = requestHeaders.get(field);
    if (value !== null && value === capture.raw[i]) continue;
    if (value === null || stored === null) {
      if (value !== stored) return false;
    } else if (field === "accept-language") {
      if (normaliseVaryValue(field, value) !== stored) return false;
    } else if (!equalsNormalised(value, stored, CASE_INSENSITIVE.has(field))) {
      return false;
    }
  }
  return true;
}

const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

/**
 * `normaliseVaryValue(field, raw) === normalised`, without building the normalised
 * string: this runs on every hit of a varying response, so it walks both strings once
 * and allocates nothing. Whitespace at either end or next to a comma is skipped.
 */
function equalsNormalised(raw: string, normalised: string, foldCase: boolean): boolean {
  const n = raw.length;
  let j = 0;
  let i = 0;
  let prevComma = true; // at the start, as after a comma, whitespace is dropped
  while (i < n) {
    let c = raw.charCodeAt(i);
    if (isOws(c)) {
      let end = i;
      while (end < n && isOws(raw.charCodeAt(end))) end++;
      const dropped = prevComma || end === n || raw.charCodeAt(end) === 0x2c;
      if (!dropped) {
        for (let k = i; k < end; k++) {
          if (normalised.charCodeAt(j++) !== raw.charCodeAt(k)) return false;
        }
      }
      i = end;
      continue;
    }
    if (foldCase && c >= 0x41 && c <= 0x5a) c += 0x20;
    if (normalised.charCodeAt(j++) !== c) return false;
    prevComma = c === 0x2c;
    i++;
  }
  return j === normalised.length;
}
