// How the serial transport words an error it passes on.

/** `error`'s message, or the thrown value as text. */
export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
