/**
 * Test kit: loggers that keep or drop what they are told, and a way to
 * catch what code under test writes to the console.
 *
 * @module
 */

/** A level of the project's `Logger` interface. */
export type LogLevel = "error" | "warn" | "info" | "debug";

/** The shape of the project's `Logger`: one method per level. */
export type TestLogger = Record<LogLevel, (...args: unknown[]) => void>;

/** One line a {@link recordingLogger} kept. */
export interface LogEntry {
  /** The level it was logged at. */
  readonly level: LogLevel;
  /** The arguments as given. */
  readonly args: readonly unknown[];
  /** The arguments as text, joined by spaces. */
  readonly text: string;
}

/** A logger that keeps every line. */
export interface RecordingLogger extends TestLogger {
  /** Every line as text, in order, whatever its level. */
  readonly lines: string[];
  /** Every line with its level and arguments, in order. */
  readonly entries: LogEntry[];
  /** The lines logged at `level`, as text. */
  at(level: LogLevel): string[];
}

/**
 * A logger that keeps every line, to check what the code said.
 *
 * @returns A fresh logger with no lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordingLogger } from "./logger.ts";
 *
 * const logger = recordingLogger();
 * logger.warn("session", 3, "is slow");
 * assert.deepEqual(logger.lines, ["session 3 is slow"]);
 * assert.deepEqual(logger.at("warn"), ["session 3 is slow"]);
 * ```
 */
export function recordingLogger(): RecordingLogger {
  const entries: LogEntry[] = [];
  const lines: string[] = [];
  const keep = (level: LogLevel) => (...args: unknown[]) => {
    const text = args.map(String).join(" ");
    entries.push({ level, args, text });
    lines.push(text);
  };
  return {
    lines,
    entries,
    at: (level) => entries.filter((e) => e.level === level).map((e) => e.text),
    error: keep("error"),
    warn: keep("warn"),
    info: keep("info"),
    debug: keep("debug"),
  };
}

/**
 * A logger that drops everything, for tests that provoke errors on purpose.
 *
 * @example
 * ```ts
 * import { silentLogger } from "./logger.ts";
 *
 * silentLogger.error("never shown");
 * ```
 */
export const silentLogger: TestLogger = Object.freeze({
  error() {},
  warn() {},
  info() {},
  debug() {},
});

/** What {@link captureConsole} caught; disposing puts the console back. */
export interface CapturedConsole extends Disposable {
  /** The arguments of each call, in order. */
  readonly calls: unknown[][];
}

/**
 * Catches (and silences) calls to one `console` method until disposed.
 *
 * @param method The method to catch; `"error"` by default.
 * @returns The calls caught so far.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { captureConsole } from "./logger.ts";
 *
 * using logged = captureConsole("error");
 * console.error("oops", 1);
 * assert.deepEqual(logged.calls, [["oops", 1]]);
 * ```
 */
export function captureConsole(
  method: LogLevel | "log" = "error",
): CapturedConsole {
  const original = console[method];
  const calls: unknown[][] = [];
  console[method] = (...args: unknown[]) => calls.push(args);
  return {
    calls,
    [Symbol.dispose]() {
      console[method] = original;
    },
  };
}
