/**
 * Structured logs (pino): one line per request at info (observe/access-log.ts batches
 * those), JSON on stdout. Tests pass "silent"; the CLI takes --log-level.
 */
import { type Logger, pino } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** `dest`: a file descriptor or path, stdout by default; written asynchronously. */
export function createLogger(level: LogLevel, name: string, dest: number | string = 1): Logger {
  return pino({ level, name, base: undefined }, pino.destination({ dest, sync: false }));
}
