import { describe, expect, it } from "vitest";
import { rendezvousNodes, rendezvousOrder } from "../../../core/routing/index.ts";

const NODES = [
  "http://10.0.0.1:8080",
  "http://10.0.0.2:8080",
  "http://10.0.0.3:8080",
  "http://10.0.0.4:8080",
  "http://10.0.0.5:8080",
];
const KEYS = Array.from(
  { length: 20_000 },
  (_, i) =>
    `[null,"https","shop.example","/products/${i}.jpg","",[],[],${i % 3 === 0 ? '"avif"' : "null"}]`,
);

function owners(nodes: readonly string[]): string[] {
  const prepared = rendezvousNodes(nodes);
  return KEYS.map((k) => rendezvousOrder(prepared, k)[0]!);
}

describe("rendezvous hashing", () => {
  it("orders every node once, the same way every time and whatever the listing order", () => {
    const a = rendezvousNodes(NODES);
    const b = rendezvousNodes([...NODES].reverse());
    for (const key of KEYS.slice(0, 500)) {
      const order = rendezvousOrder(a, key);
      expect(new Set(order).size).toBe(NODES.length);
      expect(rendezvousOrder(a, key)).toEqual(order);
      expect(rendezvousOrder(b, key)).toEqual(order);
    }
  });

  it("spreads keys evenly: each of n nodes owns 1/n of them, within 5%", () => {
    const counts = new Map<string, number>();
    for (const o of owners(NODES)) counts.set(o, (counts.get(o) ?? 0) + 1);
    const fair = KEYS.length / NODES.length;
    for (const node of NODES) {
      expect(Math.abs((counts.get(node) ?? 0) - fair) / fair, node).toBeLessThan(0.05);
    }
  });

  it("removing a node moves only its own keys, each to its runner-up", () => {
    const before = owners(NODES);
    const gone = NODES[2]!;
    const prepared = rendezvousNodes(NODES);
    const after = owners(NODES.filter((n) => n !== gone));
    let moved = 0;
    KEYS.forEach((key, i) => {
      if (before[i] === gone) {
        moved++;
        expect(after[i]).toBe(rendezvousOrder(prepared, key)[1]);
      } else {
        expect(after[i]).toBe(before[i]);
      }
    });
    expect(moved / KEYS.length).toBeCloseTo(1 / NODES.length, 1);
  });

  it("adding a node moves about 1/(n+1) of the keys, all of them to the new node", () => {
    const before = owners(NODES);
    const added = "http://10.0.0.6:8080";
    const after = owners([...NODES, added]);
    let moved = 0;
    KEYS.forEach((_, i) => {
      if (after[i] !== before[i]) {
        moved++;
        expect(after[i]).toBe(added);
      }
    });
    const share = moved / KEYS.length;
    expect(Math.abs(share - 1 / 6)).toBeLessThan(0.01);
  });

  it("handles one node and none", () => {
    expect(rendezvousOrder(rendezvousNodes(["http://a"]), "k")).toEqual(["http://a"]);
    expect(rendezvousOrder(rendezvousNodes([]), "k")).toEqual([]);
  });

  it("gives similar keys unrelated owners (no clustering by shared prefixes)", () => {
    // Keys that differ only in their last character still spread over every node.
    const prepared = rendezvousNodes(NODES);
    const seen = new Set(
      Array.from({ length: 64 }, (_, i) => rendezvousOrder(prepared, `/a/b/c${i}`)[0]),
    );
    expect(seen.size).toBe(NODES.length);
  });
});
