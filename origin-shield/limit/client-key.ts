/**
 * Whose bucket a request takes from: the client address this node vouches for (the
 * first of its X-Forwarded-For chain, http/client-address.ts), with an IPv6 address
 * counted by its /64 prefix. A subscriber is usually given a whole /64 (RFC 6177 §2
 * recommends at least that much for an end site), and any address in it is theirs to
 * use: keyed by full address, one client could rotate through 2^64 of them and never
 * meet its limit. An IPv4 address is its own key.
 */

/** The key for a request whose X-Forwarded-For chain is `chain` (null: no peer known). */
export function clientKey(chain: string | null): string {
  if (chain === null) return "unknown";
  const comma = chain.indexOf(",");
  const client = comma < 0 ? chain : chain.slice(0, comma);
  return client.includes(":") ? ipv6Prefix64(client) : client;
}

/**
 * The first four groups of an IPv6 address, written out and lowercased, then "::/64":
 * every spelling of addresses in one /64 gives the same key. The address was checked by
 * node:net before it got here; anything that does not split as IPv6 is kept whole.
 */
export function ipv6Prefix64(address: string): string {
  const lower = address.toLowerCase();
  const gap = lower.indexOf("::");
  let groups: string[];
  if (gap < 0) groups = lower.split(":");
  else {
    const head = gap === 0 ? [] : lower.slice(0, gap).split(":");
    const tail = gap + 2 === lower.length ? [] : lower.slice(gap + 2).split(":");
    // An embedded IPv4 tail (::ffff:1.2.3.4 and the like) fills two groups.
    const tailGroups = tail.length > 0 && tail[tail.length - 1]?.includes(".") ? 1 : 0;
    const missing = 8 - head.length - tail.length - tailGroups;
    if (missing < 1) return lower;
    groups = [...head, ...Array<string>(missing).fill("0"), ...tail];
  }
  if (groups.length < 4) return lower;
  const prefix = groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, ""));
  return `${prefix.join(":")}::/64`;
}
