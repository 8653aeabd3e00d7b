/**
 * Test kit: small helpers over a raw connection (a `Deno.Conn`, or any
 * byte stream that reads into a buffer and closes).
 *
 * @module
 */

import { realClearTimeout, realSetTimeout } from "./_real_time.ts";

/** What {@link bytesUntilClosed} and {@link closeQuietly} need of a connection. */
export interface Closable {
  /** Reads into `buffer`; `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Closes the connection. */
  close(): void;
}

/** Options of {@link bytesUntilClosed}. */
export interface BytesUntilClosedOptions {
  /** Milliseconds to wait for the peer to close; 5000 by default. */
  timeout?: number;
}

/**
 * Reads until the peer closes the connection, then closes it too.
 *
 * @param conn The connection.
 * @param options How long to wait for the peer.
 * @returns How many bytes came before the end.
 * @throws {Error} When the peer has not closed within the time limit.
 *
 * @example
 * ```ts ignore
 * import { bytesUntilClosed } from "./conn.ts";
 *
 * const conn = await Deno.connect({ port: 7411 });
 * await conn.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f]));
 * const n = await bytesUntilClosed(conn, { timeout: 2000 });
 * ```
 */
export async function bytesUntilClosed(
  conn: Closable,
  options: BytesUntilClosedOptions = {},
): Promise<number> {
  const { timeout = 5000 } = options;
  let late = false;
  const timer = realSetTimeout(() => {
    late = true;
    closeQuietly(conn);
  }, timeout);
  const buf = new Uint8Array(4096);
  let total = 0;
  try {
    for (let n; (n = await conn.read(buf)) !== null;) total += n;
    return total;
  } catch (error) {
    if (!late) throw error;
    throw new Error(
      `The peer did not close the connection within ${timeout} ms (${total} bytes came)`,
    );
  } finally {
    realClearTimeout(timer);
    closeQuietly(conn);
  }
}

/**
 * Writes all of `bytes`, however many writes it takes.
 *
 * @param conn The connection.
 * @param bytes What to write.
 *
 * @example
 * ```ts ignore
 * import { writeAll } from "./conn.ts";
 *
 * const conn = await Deno.connect({ port: 7411 });
 * await writeAll(conn, new Uint8Array(1 << 20));
 * ```
 */
export async function writeAll(
  conn: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(bytes.subarray(at));
  }
}

/**
 * Closes a connection or listener, ignoring that it was closed already.
 *
 * @param closable The connection or listener.
 *
 * @example
 * ```ts
 * import { closeQuietly } from "./conn.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * closeQuietly(listener);
 * closeQuietly(listener);
 * ```
 */
export function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed.
  }
}
