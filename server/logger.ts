/**
 * A leveled logger: the server logs through this small interface so that
 * applications can plug in their own.
 *
 * @module
 */

import { consoleText } from "../protocol/_console_text.ts";

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
 * When `sink` is the console (the default), objects (errors above all)
 * reach it as the text it would print for them, so that it keeps nothing
 * they refer to alive.
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
  const source = sink === console ? textConsole : sink;
  const keep = (name: LogLevel) => source[name].bind(source);
  return {
    error: max >= 0 ? keep("error") : noop,
    warn: max >= 1 ? keep("warn") : noop,
    info: max >= 2 ? keep("info") : noop,
    debug: max >= 3 ? keep("debug") : noop,
  };
}

/**
 * The console, every level kept, with objects (errors above all) passed
 * as the text it would print for them (see {@link leveledLogger}): the
 * default logger of the brokers and forwarders that default to the
 * console. It looks the console's methods up at each call, as `console`
 * itself would be.
 *
 * @example
 * ```ts
 * import { textConsole } from "./logger.ts";
 *
 * textConsole.debug("kept as", new Error("text"));
 * ```
 */
export const textConsole: Logger = {
  error: (...args) => console.error(...consoleText(args, "stderr")),
  warn: (...args) => console.warn(...consoleText(args, "stderr")),
  info: (...args) => console.info(...consoleText(args, "stdout")),
  debug: (...args) => console.debug(...consoleText(args, "stdout")),
};
