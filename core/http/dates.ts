/**
 * HTTP-date (RFC 9110 §5.6.7): parse the three formats, format IMF-fixdate.
 *
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime-date Sun Nov  6 08:49:37 1994
 *
 * Choices, where RFC 9110 leaves room:
 * - Strict grammar, except for case: senders must write names as the grammar does ("HTTP-date
 *   is case sensitive"), but a recipient reading "sun, 06 nov 1994 08:49:37 gmt" can only mean
 *   one instant, and browsers accept it, so day names, month names and "GMT" are read in any
 *   case (RFC 9110 §5.6.7 asks recipients to be lenient with dates). The short day name goes
 *   with IMF-fixdate/asctime and the long one with rfc850-date, and only GMT is accepted.
 *   Leading and trailing OWS is tolerated. Anything else is null, which RFC 9111 §5.3 makes a
 *   date in the past for Expires: the conservative outcome.
 * - The day name must be a real day name but need not agree with the date: the date is what the
 *   sender computed, the name is decoration, and rejecting it would turn a fresh response stale.
 * - Ranges: day 1..last day of that month (leap years included), hour 00-23, minute 00-59,
 *   second 00-60. A leap second (60) reads as the first second of the next minute, because epoch
 *   milliseconds cannot represent it (RFC 5322 §3.3, which IMF-fixdate subsets, allows 60).
 * - Two-digit rfc850 years: with `nowMs`, RFC 9110 §5.6.7's rule (a date more than 50 years in
 *   the future means the most recent past year with those digits). Without it, 70-99 → 19xx and
 *   00-69 → 20xx, so the function stays pure and needs no clock.
 *
 * Date.parse is not used: it accepts far more than HTTP-date. Dates are computed with integer
 * arithmetic, which also avoids Date.UTC's mapping of years 0-99 to 1900-1999.
 */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** Names as read: lowercase (the value is lowercased before it is matched). */
const MONTHS_READ = MONTHS.map((name) => name.toLowerCase());
const DAYS_READ = DAYS.map((name) => name.toLowerCase());
const LONG_DAYS_READ = [
  "sunday",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
];
const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Reads `len` ASCII digits at `at`, or -1. */
function digits(s: string, at: number, len: number): number {
  let n = 0;
  for (let k = at; k < at + len; k++) {
    const c = s.charCodeAt(k) - 0x30;
    if (!(c >= 0 && c <= 9)) return -1;
    n = n * 10 + c;
  }
  return n;
}

function month(s: string, at: number): number {
  const i = MONTHS_READ.indexOf(s.slice(at, at + 3));
  return i + 1; // 0 when not found
}

/** "HH:MM:SS" at `at` → seconds of day, or -1 (RFC 9110 §5.6.7 time-of-day). */
function timeOfDay(s: string, at: number): number {
  if (s.charCodeAt(at + 2) !== 0x3a || s.charCodeAt(at + 5) !== 0x3a) return -1;
  const h = digits(s, at, 2);
  const mi = digits(s, at + 3, 2);
  const se = digits(s, at + 6, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60) return -1;
  return h * 3600 + mi * 60 + se;
}

function toMs(y: number, m: number, d: number, secs: number): number | null {
  if (m < 1 || d < 1 || d > daysInMonth(y, m) || secs < 0) return null;
  return daysFromCivil(y, m, d) * DAY_MS + secs * 1000;
}

const isOWS = (c: number) => c === 0x20 || c === 0x09;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export function parseHttpDate(value: string | null | undefined, nowMs?: number): number | null {
  if (!value) return null;
  let start = 0;
  let end = value.length;
  while (start < end && isOWS(value.charCodeAt(start))) start++;
  while (end > start && isOWS(value.charCodeAt(end - 1))) end--;
  // Every valid form is 24 to 33 characters; checking first keeps long input O(1).
  if (end - start < 24 || end - start > 33) return null;
  const raw = start === 0 && end === value.length ? value : value.slice(start, end);
  // Names are matched in any ASCII case; no HTTP-date holds anything outside printable
  // ASCII, so nothing else reaches the folding.
  if (!PRINTABLE_ASCII.test(raw)) return null;
  const s = raw.toLowerCase();

  const comma = s.indexOf(",");
  if (comma === 3 && s.length === 29) {
    // IMF-fixdate: day-name "," SP 2DIGIT SP month SP 4DIGIT SP time-of-day SP "GMT"
    if (!DAYS_READ.includes(s.slice(0, 3)) || s[4] !== " " || s[7] !== " " || s[11] !== " ") {
      return null;
    }
    if (s[16] !== " " || s.slice(25) !== " gmt") return null;
    const d = digits(s, 5, 2);
    const y = digits(s, 12, 4);
    if (d < 0 || y < 0) return null;
    return toMs(y, month(s, 8), d, timeOfDay(s, 17));
  }
  if (comma > 3) {
    // rfc850-date: day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time-of-day SP "GMT"
    const day = s.slice(0, comma);
    const at = comma + 2;
    if (!LONG_DAYS_READ.includes(day) || s.length !== at + 22 || s[comma + 1] !== " ") return null;
    if (s[at + 2] !== "-" || s[at + 6] !== "-" || s[at + 9] !== " ") return null;
    if (s.slice(at + 18) !== " gmt") return null;
    const d = digits(s, at, 2);
    const yy = digits(s, at + 7, 2);
    const m = month(s, at + 3);
    const secs = timeOfDay(s, at + 10);
    if (d < 0 || yy < 0) return null;
    if (nowMs === undefined || !Number.isFinite(nowMs)) {
      return toMs(yy < 70 ? 2000 + yy : 1900 + yy, m, d, secs);
    }
    return twoDigitYear(yy, m, d, secs, nowMs);
  }
  if (comma === -1 && s.length === 24) {
    // asctime-date: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP 4DIGIT
    if (!DAYS_READ.includes(s.slice(0, 3)) || s[3] !== " " || s[7] !== " " || s[10] !== " ") {
      return null;
    }
    if (s[19] !== " ") return null;
    const d = s[8] === " " ? digits(s, 9, 1) : digits(s, 8, 2);
    const y = digits(s, 20, 4);
    if (d < 0 || y < 0) return null;
    return toMs(y, month(s, 4), d, timeOfDay(s, 11));
  }
  return null;
}

/**
 * RFC 9110 §5.6.7: "interpret a timestamp that appears to be more than 50 years in the future as
 * representing the most recent year in the past that had the same last two digits".
 */
function twoDigitYear(
  yy: number,
  m: number,
  d: number,
  secs: number,
  nowMs: number,
): number | null {
  const now = new Date(nowMs);
  const nowYear = now.getUTCFullYear();
  // The same instant 50 years on; Feb 29 of a non-leap target year becomes Mar 1.
  const limit =
    daysFromCivil(nowYear + 50, now.getUTCMonth() + 1, 1) * DAY_MS +
    (now.getUTCDate() - 1) * DAY_MS +
    (nowMs - Math.floor(nowMs / DAY_MS) * DAY_MS);
  // Candidates next century, this one, the last; the first not beyond the limit wins. A 29 Feb
  // that does not exist in a candidate year (2100) moves on to the next candidate.
  let y = Math.floor(nowYear / 100) * 100 + 100 + yy;
  for (let k = 0; k < 3; k++, y -= 100) {
    const ms = toMs(y, m, d, secs);
    if (ms !== null && ms <= limit) return ms;
  }
  return null;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * IMF-fixdate for an epoch-milliseconds instant (RFC 9110 §5.6.7), truncated to the second.
 * Throws RangeError for a non-finite instant or a year outside 0000-9999 (not representable).
 */
export function formatHttpDate(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  if (!Number.isFinite(ms) || Number.isNaN(y) || y < 0 || y > 9999) {
    throw new RangeError(`cannot format ${ms} as an HTTP-date`);
  }
  return (
    `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ` +
    `${String(y).padStart(4, "0")} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:` +
    `${pad2(d.getUTCSeconds())} GMT`
  );
}
