/**
 * Structured logs (pino): one line per request at info, JSON on stdout. Tests pass
 * "silent"; the CLI takes --log-level.
 */
import { type Logger, pino } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export function createLogger(level: LogLevel, name: string): Logger {
  // Asynchronous writes: a synchronous write(2) per request line costs about as much as
  // serving a hit; lines written while one write is pending go out together in the
  // next. pino flushes what is left when the process exits.
  const destination = pino.destination({ dest: 1, sync: false });
  return pino({ level, name, base: undefined }, destination);
}
