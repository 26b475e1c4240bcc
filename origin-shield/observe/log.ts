/**
 * Structured logs (pino): one line per request at info, JSON on stdout. Tests pass
 * "silent"; the CLI takes --log-level.
 */
import { type Logger, pino } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Log lines are written at least this often, and whenever BUFFER bytes are waiting. */
const FLUSH_MS = 1_000;
const BUFFER = 8 * 1024;

/**
 * `dest` is a file descriptor or path (stdout by default). Lines are buffered and written
 * asynchronously in batches of BUFFER bytes, and at least every FLUSH_MS (as nginx's
 * `access_log … buffer= flush=` does): a write(2) per request line costs about as much
 * as serving a hit. What is left is flushed when the process exits.
 */
export function createLogger(level: LogLevel, name: string, dest: number | string = 1): Logger {
  const destination = pino.destination({ dest, sync: false, minLength: BUFFER });
  const timer = setInterval(() => {
    try {
      destination.flush();
    } catch {
      // not open yet, or already closed at exit: nothing to flush now
    }
  }, FLUSH_MS);
  timer.unref();
  return pino({ level, name, base: undefined }, destination);
}
