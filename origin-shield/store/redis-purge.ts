/**
 * Purge in the shared Redis tier, through the indexes Redis holds beside the records
 * (store/redis-records.ts): the sets per URL, per source URL and per tag, and the sorted
 * set of URLs that a prefix is looked up in. A hard purge deletes each record; a soft
 * purge rewrites its head made stale now (store/soft-purge.ts), body untouched, and only
 * if the head is still the one it read (another node may have refreshed it meanwhile).
 *
 * Index entries whose records Redis expired are removed as they are found, so the
 * indexes shrink with the records.
 */
import type { RedisLink } from "../cluster/redis-link.ts";
import type { RecordHead } from "./lower-tier.ts";
import {
  DELETE,
  decodeHead,
  encodeHead,
  encodeIndexes,
  memberUrl,
  PRUNE_SET,
  PRUNE_URLS,
  REPLACE_HEAD,
  type RedisNames,
} from "./redis-records.ts";
import { softPurgedMeta } from "./soft-purge.ts";

/** What a purge names; URLs and prefixes already normalised (core/key). */
export interface RedisPurgeSelector {
  readonly urls?: readonly string[] | undefined;
  readonly tags?: readonly string[] | undefined;
  readonly prefixes?: readonly string[] | undefined;
}

export interface RedisPurgeContext {
  readonly link: RedisLink;
  readonly names: RedisNames;
  /** The bound on each command. */
  readonly timeoutMs: number;
  /** How long Redis keeps a record deleted at `deleteAt`; null when already due. */
  expiry(deleteAt: number): number | null;
  removed(key: string, head: RecordHead): void;
  replaced(key: string, old: RecordHead, head: RecordHead): void;
}

/** URLs read from the sorted set per page of a prefix purge. */
const PAGE = 500;
/** Records purged at once (each is one script; the client pipelines them). */
const IN_FLIGHT = 64;
/** Attempts at a soft purge of a record whose head keeps changing under it. */
const ATTEMPTS = 3;

export async function purgeShared(
  context: RedisPurgeContext,
  selector: RedisPurgeSelector,
  soft: boolean,
  now: number,
): Promise<number | "down"> {
  if (context.link.state === "down") return "down";
  const run = new PurgeRun(context, soft, now);
  const { names } = context;
  const sets: string[] = [];
  for (const url of selector.urls ?? []) sets.push(names.url(url), names.derived(url));
  for (const tag of selector.tags ?? []) sets.push(names.tag(tag));
  await run.purgeSets(sets);
  for (const prefix of selector.prefixes ?? []) {
    if (run.failed) break;
    // Every member starting with the prefix sorts before prefix + 0xFF: no UTF-8 text
    // holds that byte.
    const end = Buffer.concat([Buffer.from(`(${prefix}`), Buffer.from([0xff])]);
    let start: string = `[${prefix}`;
    for (;;) {
      const page = await context.link.command(
        ["ZRANGEBYLEX", names.urls, start, end, "LIMIT", "0", String(PAGE)],
        { timeoutMs: context.timeoutMs },
      );
      if (!page.ok || !Array.isArray(page.value)) {
        run.failed = true;
        break;
      }
      const members = page.value as string[];
      const urls = members.map(memberUrl).filter((url) => url.startsWith(prefix));
      await run.purgeSets(urls.flatMap((url) => [names.url(url), names.derived(url)]));
      if (members.length > 0) {
        await run.check(context.link.script(PRUNE_URLS, [names.urls], members));
      }
      const last = members.at(-1);
      if (last === undefined || members.length < PAGE || run.failed) break;
      start = `(${last}`;
    }
  }
  return run.failed ? "down" : run.count;
}

class PurgeRun {
  readonly #context: RedisPurgeContext;
  readonly #soft: boolean;
  readonly #now: number;
  /** Record names already handled: a record in several named sets counts once. */
  readonly #seen = new Set<string>();
  count = 0;
  failed = false;

  constructor(context: RedisPurgeContext, soft: boolean, now: number) {
    this.#context = context;
    this.#soft = soft;
    this.#now = now;
  }

  /** Purge every record listed in these sets, and drop the entries of records gone. */
  async purgeSets(sets: readonly string[]): Promise<void> {
    const { link, timeoutMs } = this.#context;
    const listed = await Promise.all(
      sets.map((set) => link.command(["SMEMBERS", set], { timeoutMs })),
    );
    const work: { set: string; record: string }[] = [];
    listed.forEach((result, at) => {
      if (!result.ok || !Array.isArray(result.value)) {
        this.failed = true;
        return;
      }
      for (const record of result.value as string[]) {
        if (this.#seen.has(record)) continue;
        this.#seen.add(record);
        work.push({ set: sets[at] as string, record });
      }
    });
    const gone = new Map<string, string[]>();
    await inBatches(work, IN_FLIGHT, async ({ set, record }) => {
      const found = await this.#purgeRecord(record);
      if (found === "failed") this.failed = true;
      else if (found) this.count++;
      else gone.set(set, [...(gone.get(set) ?? []), record]);
    });
    await Promise.all(
      [...gone].map(([set, records]) => this.check(link.script(PRUNE_SET, [set], records))),
    );
  }

  async check(work: Promise<{ readonly ok: boolean }>): Promise<void> {
    if (!(await work).ok) this.failed = true;
  }

  /** True when the record was there and is purged; false when it was already gone. */
  async #purgeRecord(record: string): Promise<boolean | "failed"> {
    const { link, names, timeoutMs } = this.#context;
    const keys = [record, names.urls];
    if (!this.#soft) {
      const result = await link.script(DELETE, keys, [""], { timeoutMs });
      if (!result.ok) return "failed";
      if (typeof result.value !== "string") return false;
      const old = decodeHead(result.value);
      if (old?.kind === "object") this.#context.removed(old.key, old.head);
      return true;
    }
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const read = await link.command(["HGET", record, "h"], { timeoutMs });
      if (!read.ok) return "failed";
      if (typeof read.value !== "string") return false;
      const old = decodeHead(read.value);
      if (old?.kind !== "object") return false;
      const head = { meta: softPurgedMeta(old.head.meta, this.#now), id: old.head.id };
      const px = this.#context.expiry(head.meta.deleteAt);
      if (px === null) return false; // past its deleteAt: nothing left to serve stale
      const args = [
        encodeHead(old.key, head),
        encodeIndexes(names, head),
        String(px),
        String(head.meta.deleteAt),
        String(this.#now),
        read.value,
      ];
      const result = await link.script(REPLACE_HEAD, keys, args, { timeoutMs });
      if (!result.ok) return "failed";
      if (typeof result.value === "string") {
        this.#context.replaced(old.key, old.head, head);
        return true;
      }
      // The head changed between the read and the rewrite: read it again.
    }
    return "failed";
  }
}

/** Run `task` over `items`, at most `limit` at a time. */
async function inBatches<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
