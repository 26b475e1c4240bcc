/**
 * Walking the disk tier's files (store/disk-format.ts names and places them): the index
 * rebuild at start-up and `clear`. Files are visited a folder at a time, in batches of
 * `batch` run together, and the walk yields to the event loop after each batch
 * (setImmediate: after pending I/O callbacks), so a node rebuilding a large cache goes
 * on serving, and a few libuv threads are not all taken by the walk.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { isRecordName } from "./disk-format.ts";

const FOLDER = /^[0-9a-f]{2}$/;

/**
 * Run `visit` for the name of every record file under `dir`, `batch` at a time, until
 * `stopped()` says so. True when every file was visited.
 */
export async function forEachRecordFile(
  dir: string,
  batch: number,
  visit: (name: string) => Promise<unknown>,
  stopped: () => boolean,
): Promise<boolean> {
  const folders = (await readdir(dir, { withFileTypes: true }))
    .filter((found) => found.isDirectory() && FOLDER.test(found.name))
    .map((found) => found.name);
  for (const folder of folders) {
    if (stopped()) return false;
    const names = (await readdir(join(dir, folder))).filter(isRecordName);
    for (let at = 0; at < names.length; at += batch) {
      if (stopped()) return false;
      await Promise.all(names.slice(at, at + batch).map(visit));
      await nextTurn();
    }
  }
  return true;
}

/** `visit` for each item, `batch` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  batch: number,
  visit: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let at = 0; at < items.length; at += batch) {
    await Promise.all(items.slice(at, at + batch).map(visit));
  }
}
