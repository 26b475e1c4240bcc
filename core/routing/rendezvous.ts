/**
 * Rendezvous (highest-random-weight) hashing: which shield node owns a cache key.
 *
 * Every node gets a score for the key and the key goes to the highest; the rest of the
 * ranking is the failover order. Adding a node moves only the keys it now wins (about
 * 1/n of them) and removing one moves only the keys it owned, each to its own runner-up,
 * so the cluster keeps fetching each object from the origin once while nodes come and go.
 * Unlike a hash ring it needs no virtual nodes to spread keys evenly, and with the
 * handful of shields a CDN runs, scoring every node per miss costs nothing.
 *
 * The score is fmix32(hash(node) XOR hash(key)), the hash being FNV-1a (core/key/hash.ts
 * fnv1a32). FNV-1a alone mixes its last input bytes poorly, so the combination goes
 * through MurmurHash3's finaliser, a bijection with full avalanche, and every node's
 * score for a key behaves like an independent draw.
 */
import { fnv1a32 } from "../key/hash.ts";

/** Nodes prepared once: their names and name hashes. */
export interface RendezvousNodes {
  readonly names: readonly string[];
  readonly hashes: Uint32Array;
}

export function rendezvousNodes(names: readonly string[]): RendezvousNodes {
  return { names: [...names], hashes: Uint32Array.from(names, (n) => fnv1a32(n)) };
}

/** MurmurHash3's 32-bit finaliser (fmix32). */
function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The score of one node for a key hash; ties (1 in 2^32) are broken by node name. */
export function rendezvousScore(nodeHash: number, keyHash: number): number {
  return fmix32(nodeHash ^ keyHash);
}

/**
 * The nodes in the key's order of preference: the owner first, then each node that
 * would own the key if all before it were gone. Deterministic: every edge computes the
 * same order for the same key and node set, whatever order the nodes were listed in.
 */
export function rendezvousOrder(nodes: RendezvousNodes, key: string): string[] {
  const n = nodes.names.length;
  if (n <= 1) return [...nodes.names];
  const keyHash = fnv1a32(key);
  const ranked: { name: string; score: number }[] = [];
  for (let i = 0; i < n; i++) {
    ranked.push({ name: nodes.names[i]!, score: rendezvousScore(nodes.hashes[i]!, keyHash) });
  }
  ranked.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return ranked.map((r) => r.name);
}
