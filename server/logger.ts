/**
 * A leveled logger: the server logs through this small interface so that
 * applications can plug in their own.
 *
 * @module
 */

/** Severity of a log line, from most to least severe. */
export type LogLevel = "error" | "warn" | "info" | "debug";

/** Where the server writes its log lines. `console` fits. */
export interface Logger {
  /** Something failed and was handled by closing or refusing. */
  error(...args: unknown[]): void;
  /** A peer misbehaved or a limit was hit. */
  warn(...args: unknown[]): void;
  /** Lifecycle: listeners bound, shutdown. */
  info(...args: unknown[]): void;
  /** Per-session detail. */
  debug(...args: unknown[]): void;
}

const ORDER: Record<LogLevel, number> = {
  error: 0,
  warn: 1,
  info: 2,
  debug: 3,
};

/**
 * Wraps `sink` so that only lines at `level` or more severe get through.
 *
 * @param level The least severe level to keep.
 * @param sink Where kept lines go (default `console`).
 * @returns A logger.
 *
 * @example
 * ```ts
 * import { leveledLogger } from "@nanorpc/nanorpc";
 *
 * const logger = leveledLogger("warn");
 * logger.info("dropped");
 * logger.warn("kept");
 * ```
 */
export function leveledLogger(level: LogLevel, sink: Logger = console): Logger {
  const max = ORDER[level];
  const noop = () => {};
  return {
    error: max >= 0 ? sink.error.bind(sink) : noop,
    warn: max >= 1 ? sink.warn.bind(sink) : noop,
    info: max >= 2 ? sink.info.bind(sink) : noop,
    debug: max >= 3 ? sink.debug.bind(sink) : noop,
  };
}
