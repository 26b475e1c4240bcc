/**
 * Who the client is, as far as this node can vouch: the X-Forwarded-For chain sent to
 * origins. A client may write any X-Forwarded-For it likes, so entries are believed only
 * when the peer that sent them is a configured trusted proxy (`shield.trustedProxies`,
 * for example the edge's addresses), and then only back to the first address that is
 * not itself a trusted proxy: that one is the client, anything to its left is whatever
 * the client claimed and is dropped (the rule nginx's realip and Express's `trust proxy`
 * follow).
 */
import { BlockList, isIP } from "node:net";

export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  /** `entries`: addresses or CIDR ranges, IPv4 or IPv6 (validated by the config schema). */
  constructor(entries: readonly string[]) {
    this.#empty = entries.length === 0;
    for (const entry of entries) {
      const [address = "", bits] = entry.split("/");
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      if (bits === undefined) this.#list.addAddress(address, family);
      else this.#list.addSubnet(address, Number(bits), family);
    }
  }

  trusts(address: string): boolean {
    if (this.#empty) return false;
    const plain = unmapped(address);
    const family = isIP(plain);
    return family !== 0 && this.#list.check(plain, family === 6 ? "ipv6" : "ipv4");
  }

  /**
   * The X-Forwarded-For to send on for a request from `peer` that carried `claimed`:
   * `client, proxy…, peer`, or just the peer when it is not trusted. Null when the peer
   * is unknown (a request that did not come over a socket).
   */
  forwardedFor(peer: string | undefined, claimed: string | null): string | null {
    if (peer === undefined) return null;
    const self = unmapped(peer);
    if (claimed === null || !this.trusts(self)) return self;
    const entries = claimed
      .split(",")
      .map((s) => unmapped(s.trim()))
      .filter((s) => s !== "");
    const kept: string[] = [self];
    for (let i = entries.length - 1; i >= 0; i--) {
      const address = entries[i] as string;
      if (isIP(address) === 0) break; // not an address: nothing left of it can be believed
      kept.unshift(address);
      if (!this.trusts(address)) break; // the client
    }
    return kept.join(", ");
  }
}

/** `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) as `192.0.2.1`. */
function unmapped(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
