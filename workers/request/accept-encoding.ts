/**
 * Accept-Encoding as forwarded to the shield: only the codings a shield serves
 * precompressed (br, gzip), in one spelling per set, so that a response stored with
 * `Vary: Accept-Encoding` matches every client that accepts the same codings, whatever
 * order, case, spacing or extra codings (zstd, deflate) its browser writes. The runtime
 * handles the encoding towards the client itself.
 */

/** RFC 9110 §12.5.3: codings with q > 0; "*" stands for every coding not listed. */
export function normaliseAcceptEncoding(value: string | null): string | null {
  if (value === null) return null;
  const q = new Map<string, number>();
  for (const member of value.split(",")) {
    const [rawName, ...params] = member.split(";");
    const name = (rawName ?? "").trim().toLowerCase();
    if (name === "") continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m !== null) weight = Number(m[1]);
    }
    // x-gzip is gzip (RFC 9110 §8.4.1.3).
    q.set(name === "x-gzip" ? "gzip" : name, weight);
  }
  const star = q.get("*") ?? 0;
  const accepts = (coding: string) => (q.get(coding) ?? star) > 0;
  const br = accepts("br");
  const gzip = accepts("gzip");
  if (br && gzip) return "br, gzip";
  if (br) return "br";
  if (gzip) return "gzip";
  return null;
}
