// Command-line mistakes of `deno task call`, and hex input.

/** The command line is wrong: exit 2 with the usage. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/**
 * Data or a filter on the command line does not fit its type: exit 2,
 * without the usage (the message says what the type wants).
 */
export class DataError extends UsageError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataError";
  }
}

/** Runs `fn`, turning what it throws into a {@link UsageError}. */
export function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message, { cause: error });
  }
}

/** Bytes from hex digits (`0x`, spaces and colons allowed). */
export function fromHex(text: string, flag: string): Uint8Array {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) {
    throw new UsageError(`${flag} wants an even number of hex digits`);
  }
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}
