// Console arguments as the text the console would print for them. V8 keeps
// the arguments of the last 1,000 console calls for a debugger that may
// attach later, and an error keeps the functions of its stack with their
// closures: logged as it is, a handler's error would keep its whole session
// (context, read buffer, outbox) alive long after the session closed, a
// client listener's error its whole client (connection, buffers). The
// browser client uses this too, so the runtime is detected, not assumed:
// outside Deno an error becomes its stack text.

/** What this needs of the Deno namespace, when there is one. */
interface Runtime {
  inspect(value: unknown, options: { colors?: boolean }): string;
  readonly noColor: boolean;
  readonly stdout: { isTerminal(): boolean };
  readonly stderr: { isTerminal(): boolean };
}

const runtime = (globalThis as { Deno?: Runtime }).Deno;

/** Which stream a console method writes to. */
export type ConsoleStream = "stdout" | "stderr";

/**
 * `args` with each object (errors above all) replaced by the text the
 * console would print for it; other values are left as they are.
 *
 * @param args A console call's arguments.
 * @param stream Where the call writes (whether it colors, under Deno):
 * `"stderr"` for `console.error` and `console.warn`, `"stdout"` otherwise.
 * @returns The arguments to hand the console instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consoleText } from "./_console_text.ts";
 *
 * const [line, error] = consoleText(["failed:", new Error("boom")], "stderr");
 * assert.equal(line, "failed:");
 * assert.match(String(error), /^Error: boom\n/);
 * ```
 */
export function consoleText(
  args: readonly unknown[],
  stream: ConsoleStream,
): unknown[] {
  let colors: boolean | undefined;
  return args.map((arg) => {
    if (typeof arg !== "object" && typeof arg !== "function") return arg;
    if (arg === null) return arg;
    if (!runtime) return arg instanceof Error ? errorText(arg) : arg;
    colors ??= !runtime.noColor && runtime[stream].isTerminal();
    return runtime.inspect(arg, { colors });
  });
}

/**
 * `console.error` with {@link consoleText}'s arguments: for reports of a
 * caller's callback that threw, whose error may reach far.
 *
 * @param args What `console.error` would be given.
 *
 * @example
 * ```ts
 * import { consoleError } from "./_console_text.ts";
 *
 * consoleError("a listener threw:", new Error("boom"));
 * ```
 */
export function consoleError(...args: unknown[]): void {
  console.error(...consoleText(args, "stderr"));
}

/** An error's stack, headed by its name and message (which Firefox omits). */
function errorText(error: Error): string {
  const head = String(error);
  const stack = typeof error.stack === "string" ? error.stack : "";
  if (stack === "") return head;
  return stack.includes(head) ? stack : `${head}\n${stack}`;
}
