/**
 * Whether the disk tier (store/disk-tier.ts) can write. A disk that is full or that
 * refuses writes (out of space or quota, read-only, permissions, I/O errors, its folder
 * gone) takes the tier down: it takes no writes and serves what it has. One warning is
 * logged when it goes down, and a probe write is tried every `retryAfterMs` until one
 * succeeds and the tier is up again, with no one having to restart the node. Other
 * failures (a file descriptor limit, say) cost the one write and are counted.
 */
import { mkdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";

const DOWN_CODES: ReadonlySet<string> = new Set([
  "ENOSPC",
  "EDQUOT",
  "EROFS",
  "EACCES",
  "EPERM",
  "EIO",
  "ENOTDIR",
  "ENOENT",
  "EISDIR",
  "ELOOP",
]);

/** The probe writes this much: a disk with less room than that is as good as full. */
const PROBE_BYTES = 64 * 1024;

export interface AvailabilityOptions {
  readonly dir: string;
  /** The folder the probe writes in, made again when it is missing. */
  readonly tempDir: string;
  readonly retryAfterMs: number;
  readonly log: Logger | undefined;
}

export class DiskAvailability {
  readonly #options: AvailabilityOptions;
  #down = false;
  #error: string | undefined;
  #writeErrors = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: AvailabilityOptions) {
    this.#options = options;
  }

  get down(): boolean {
    return this.#down;
  }

  /** Why the tier is down; undefined while it is up. */
  get error(): string | undefined {
    return this.#error;
  }

  get writeErrors(): number {
    return this.#writeErrors;
  }

  /** A write failed with `error`. */
  failed(error: unknown): void {
    this.#writeErrors++;
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === undefined || !DOWN_CODES.has(code)) {
      this.#options.log?.warn({ err: error, dir: this.#options.dir }, "disk tier: a write failed");
      return;
    }
    this.#error = describe(error);
    if (this.#down) return;
    this.#down = true;
    this.#options.log?.warn(
      { err: error, dir: this.#options.dir },
      "disk tier down: no writes until a probe write succeeds",
    );
    this.#scheduleProbe();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #scheduleProbe(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#probe(), this.#options.retryAfterMs);
    this.#timer.unref();
  }

  async #probe(): Promise<void> {
    this.#timer = null;
    const { tempDir, dir, log } = this.#options;
    const path = join(tempDir, `probe-${process.pid}`);
    try {
      await mkdir(tempDir, { recursive: true });
      await writeFile(path, Buffer.alloc(PROBE_BYTES));
      await unlink(path);
    } catch (error) {
      await unlink(path).catch(() => undefined);
      this.#error = describe(error);
      this.#scheduleProbe();
      return;
    }
    if (this.#closed) return;
    this.#down = false;
    this.#error = undefined;
    log?.info({ dir }, "disk tier up: a probe write succeeded");
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
