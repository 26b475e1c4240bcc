/**
 * URLs dense in the characters and shapes where a serialised-URL fast path could go
 * wrong, for checking core/key/split-url.ts against the runtime's own URL parser: in
 * Node (tests/core/key/split-url.test.ts) and in workerd (tests/workers/split-url.test.ts).
 */
import fc from "fast-check";

const piece = fc.constantFrom(
  "a",
  "Z",
  "0",
  "9",
  "-",
  ".",
  "_",
  "~",
  "/",
  "?",
  "&",
  "=",
  "%",
  "2e",
  "2E",
  "41",
  ":",
  "@",
  "!",
  "'",
  "(",
  ";",
  "+",
  ",",
  "#",
  " ",
  "\\",
  "é",
  "xn--",
  "..",
  "443",
  "80",
  "[",
  "|",
  "^",
);
const tail = fc.array(piece, { maxLength: 20 }).map((p) => p.join(""));
export const trickyUrl = fc
  .tuple(
    fc.constantFrom("http://", "https://", "HTTP://"),
    fc.constantFrom(
      "e.com",
      "a.b-c.org",
      "x",
      "e.com:8080",
      "e.com:80",
      "1.2.3.4",
      "E.com",
      "127.0.0.1:8080",
      "0.0.0.0",
      "255.255.255.255",
      "256.1.1.1",
      "1.2.3.04",
      "01.2.3.4",
      "1.2.3",
      "1.2.3.4:80",
      "1.2.3.4.5",
    ),
    tail,
  )
  .map(([s, h, t]) => `${s}${h}${t.startsWith("/") ? t : `/${t}`}`);

/** What `new URL()` in this runtime makes of `s`, in the fast path's shape. */
export function viaParser(s: string) {
  const u = new URL(s);
  return { protocol: u.protocol, host: u.host, pathname: u.pathname, search: u.search };
}
