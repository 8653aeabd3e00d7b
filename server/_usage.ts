// How the command-line entry points end on an error: a mistake on the
// command line gets the usage text and exit status 2; anything else (a
// port in use, a module that throws) only its message and status 1.

/** A mistake on the command line, which the usage text helps with. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Prints `error` on stderr, with `usage` when it is a command-line mistake
 * (a {@link UsageError}, or one `node:util`'s `parseArgs` threw), and
 * returns the exit status: 2 for those, 1 for the rest.
 */
export function reportFailure(error: unknown, usage: string): number {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const usageError = error instanceof UsageError ||
    (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"));
  console.error(
    usageError ? `error: ${message}\n${usage}` : `error: ${message}`,
  );
  return usageError ? 2 : 1;
}
