/**
 * Structured logs (pino): one line per request at info, JSON on stdout. Tests pass
 * "silent"; the CLI takes --log-level.
 */
import { type Logger, pino } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export function createLogger(level: LogLevel, name: string): Logger {
  return pino({ level, name, base: undefined });
}
