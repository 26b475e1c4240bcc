/**
 * Accept-Encoding (RFC 9110 §12.5.3) reduced to the one content coding this CDN will
 * send: `br`, `gzip` or `identity`. Both tiers key and forward by this value, so every
 * client that would get the same bytes shares one stored variant, whatever order, case,
 * spacing, extra codings (zstd, deflate) or weights its Accept-Encoding has.
 *
 *   Accept-Encoding = #( codings [ weight ] )
 *   codings = content-coding / "identity" / "*"
 *   weight = OWS ";" OWS "q=" qvalue
 *
 * The choice: the coding with the highest weight among br and gzip (br on a tie), unless
 * identity's weight is higher. A coding not listed takes the weight of `*` when `*` is
 * listed, else 0; identity not listed takes `*`'s weight when listed, else the lowest
 * weight above 0 (acceptable unless excluded, and chosen only when nothing else is). No header at all means the client said nothing, so it
 * gets identity (a client that decodes says so). When even identity is excluded
 * (`identity;q=0` or `*;q=0`) and neither br nor gzip is acceptable, identity is still
 * what is sent: §12.5.3 allows sending a representation with no coding then, and every
 * client can read it. `x-gzip` is gzip (§8.4.1.3). A member whose weight does not parse
 * is ignored, as if it were not there.
 */

/** The content codings the shield stores and serves. */
export type ContentCoding = "br" | "gzip" | "identity";

/** Members read from one header value; a longer list is a client inventing values. */
const MAX_MEMBERS = 64;

/** RFC 9110 §12.4.2 qvalue in thousandths, or -1 when it does not parse. */
function thousandths(text: string): number {
  const m = /^(?:(0)(?:\.(\d{0,3}))?|(1)(?:\.0{0,3})?)$/.exec(text);
  if (m === null) return -1;
  if (m[3] !== undefined) return 1000;
  return Number((m[2] ?? "").padEnd(3, "0"));
}

/**
 * The coding to send for this Accept-Encoding value (null: the field was absent).
 * Never throws; bounded work for any input.
 */
export function preferredCoding(value: string | null): ContentCoding {
  if (value === null) return "identity";
  let br = -1;
  let gzip = -1;
  let identity = -1;
  let star = -1;
  let members = 0;
  for (const member of value.split(",")) {
    if (++members > MAX_MEMBERS) break;
    const semi = member.indexOf(";");
    const name = (semi < 0 ? member : member.slice(0, semi)).trim().toLowerCase();
    if (name === "") continue;
    let weight = 1000;
    if (semi >= 0) {
      const param = member.slice(semi + 1).trim();
      const eq = param.indexOf("=");
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "q") continue;
      weight = thousandths(param.slice(eq + 1).trim());
      if (weight < 0) continue;
    }
    // A coding listed twice keeps its highest weight.
    if (name === "br") br = Math.max(br, weight);
    else if (name === "gzip" || name === "x-gzip") gzip = Math.max(gzip, weight);
    else if (name === "identity") identity = Math.max(identity, weight);
    else if (name === "*") star = Math.max(star, weight);
  }
  const unlisted = star < 0 ? 0 : star;
  const qBr = br < 0 ? unlisted : br;
  const qGzip = gzip < 0 ? unlisted : gzip;
  // Unlisted identity is acceptable but the last choice: a listed coding is preferred.
  const qIdentity = identity < 0 ? (star < 0 ? 1 : star) : identity;
  const best = Math.max(qBr, qGzip);
  if (best === 0 || best < qIdentity) return "identity";
  return qBr >= qGzip ? "br" : "gzip";
}
