/**
 * What the disk tier (store/disk-tier.ts) keeps in memory of its files: per file, its key,
 * kind, deleteAt, cost and inode, in order of use, and the total cost. No heads: the heads
 * are on disk, and a million entries would otherwise cost gigabytes of memory (the tier
 * remembers those of files read lately within a budget of their own, store/disk-heads.ts,
 * and hears from the index when one no longer holds). Also the per-file locks that keep
 * the changes to one file in order.
 */

/** One file as the index knows it. */
export interface IndexEntry {
  readonly key: string;
  /** The file's name: the key's hash (store/disk-format.ts). */
  readonly name: string;
  readonly kind: "object" | "vary";
  readonly deleteAt: number;
  /** Bytes counted against the budget. */
  readonly cost: number;
  /** Which file it is: a file renamed over it has another inode. */
  readonly ino: number;
}

export class DiskIndex {
  /** By file name; the Map's order is recency, least recently used first. */
  readonly #entries = new Map<string, IndexEntry>();
  readonly #dropped: (entry: IndexEntry) => void;
  #bytes = 0;
  #sweep: Iterator<IndexEntry> | null = null;

  /**
   * `dropped` hears of every entry that leaves the index, removed or replaced: whatever
   * was remembered of that file (its head, store/disk-heads.ts) no longer holds.
   */
  constructor(dropped: (entry: IndexEntry) => void = () => undefined) {
    this.#dropped = dropped;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(name: string): IndexEntry | undefined {
    return this.#entries.get(name);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** `entry` is now the most recently used. */
  touch(entry: IndexEntry): void {
    if (this.#entries.get(entry.name) !== entry) return;
    this.#entries.delete(entry.name);
    this.#entries.set(entry.name, entry);
  }

  /** Index `entry` as the most recently used, in place of what was under its name. */
  set(entry: IndexEntry): void {
    const prior = this.#entries.get(entry.name);
    if (prior !== undefined) this.remove(prior);
    this.#entries.set(entry.name, entry);
    this.#bytes += entry.cost;
  }

  /** Forget `entry`, if it is still what is indexed under its name. */
  remove(entry: IndexEntry): boolean {
    if (this.#entries.get(entry.name) !== entry) return false;
    this.#entries.delete(entry.name);
    this.#bytes -= entry.cost;
    this.#dropped(entry);
    return true;
  }

  oldest(): IndexEntry | undefined {
    return this.#entries.values().next().value;
  }

  all(): IndexEntry[] {
    return [...this.#entries.values()];
  }

  /**
   * Up to `count` entries past their deleteAt, looking at no more than `count` entries
   * and going on where the last call stopped: a full pass over a large index is spread
   * over many calls. (A Map iterator stays valid while entries come and go.)
   */
  expired(now: number, count: number): IndexEntry[] {
    const found: IndexEntry[] = [];
    let cursor = this.#sweep ?? this.#entries.values();
    for (let looked = 0; looked < count; looked++) {
      const next = cursor.next();
      if (next.done === true) {
        cursor = this.#entries.values();
        break;
      }
      if (now >= next.value.deleteAt) found.push(next.value);
    }
    this.#sweep = cursor;
    return found;
  }
}

/**
 * One change at a time per file: a rename into place, a removal, a new head. A task
 * runs once the tasks queued before it under the same name have settled, whatever
 * their outcome; tasks under other names run alongside.
 */
export class FileLocks {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(name: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(name);
    const result = before === undefined ? task() : before.then(task);
    const tail = result.then(settled, settled);
    this.#tails.set(name, tail);
    void tail.then(() => {
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    });
    return result;
  }

  /** Settles once no task is queued or running. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}

function settled(): void {}
