/**
 * The byte-stream adapter of serial lines (RS-232, RS-485, UART bridges)
 * and pseudo-terminals, and the facts a session needs about them.
 *
 * A serial line is not a connection: nothing tells the two ends that the
 * other one restarted, and there is nothing to close when a frame is
 * malformed. A session on a line therefore recovers instead of hanging up:
 * it discards what it has buffered, waits until the line has been quiet
 * for {@link quietGap} (see {@link SerialStream.discardUntilQuiet}), and
 * parses anew from the next byte. A peer re-synchronises by pausing at
 * least that long between bursts.
 *
 * @module
 */

import type { ByteStream } from "./byte_stream.ts";

/** Baud rates `stty` (and Linux termios) can set. */
export const SERIAL_BAUD_RATES: readonly number[] = [
  50,
  75,
  110,
  134,
  150,
  200,
  300,
  600,
  1200,
  1800,
  2400,
  4800,
  9600,
  19200,
  38400,
  57600,
  115200,
  230400,
  460800,
  500000,
  576000,
  921600,
  1000000,
  1152000,
  1500000,
  2000000,
  2500000,
  3000000,
  3500000,
  4000000,
];

/** How {@link openSerial} sets up the line. */
export interface SerialOptions {
  /** Bits per second, one of {@link SERIAL_BAUD_RATES}; 115200 by default. */
  baud?: number;
}

/** A serial line as a {@link ByteStream}. */
export interface SerialStream extends ByteStream {
  /** The device path. */
  readonly path: string;
  /** The line's baud rate. */
  readonly baud: number;
  /**
   * Throws away incoming bytes until none has come for `gap` ms, the
   * recovery after a malformed frame. Bytes that arrive after the gap are
   * kept for the next `read`.
   *
   * @param gap Milliseconds of silence; {@link quietGap} of the baud rate
   * by default.
   * @returns How many bytes were thrown away.
   * @throws {Error} When the device fails or the stream is closed meanwhile.
   */
  discardUntilQuiet(gap?: number): Promise<number>;
}

/** How {@link quietGap} computes the silence that ends a garbled burst. */
export interface QuietGapOptions {
  /** Character times of silence; 3.5 by default (Modbus RTU's t3.5). */
  characters?: number;
  /**
   * Floor in milliseconds; 20 by default, because operating-system timers
   * and USB serial bridges (an FTDI chip holds bytes up to 16 ms) blur
   * shorter gaps.
   */
  minimum?: number;
}

/**
 * How long a line must stay silent before a session that hit a malformed
 * frame starts parsing again: a few character times (a character is 10 bits
 * on an 8N1 line), but never less than a floor that timers can resolve.
 *
 * @param baud The line's bits per second.
 * @param options Character count and floor.
 * @returns Milliseconds.
 *
 * @example
 * ```ts
 * import { quietGap } from "@nanorpc/nanorpc/transport";
 *
 * quietGap(115200); // 20 (3.5 characters are 0.3 ms; the floor wins)
 * quietGap(300); // 117
 * ```
 */
export function quietGap(baud: number, options: QuietGapOptions = {}): number {
  const characters = options.characters ?? 3.5;
  const minimum = options.minimum ?? 20;
  return Math.max(minimum, Math.ceil((characters * 10 * 1000) / baud));
}

/**
 * Opens a serial device or pty for reading and writing, after putting it in
 * raw mode at `baud` by running `stty -F PATH raw -echo BAUD` (so it needs
 * `--allow-run=stty` and `--allow-read --allow-write` on the path; `stty` is
 * part of coreutils).
 *
 * The stream's `close()` closes the device; a pending read ends. A device
 * that is unplugged makes `read` and `write` throw; {@link watchSerial}
 * reopens it when it comes back.
 *
 * @param path The device, e.g. `/dev/ttyUSB0` or a pty.
 * @param options The baud rate.
 * @returns The open stream.
 * @throws {RangeError} When `baud` is not a rate `stty` can set.
 * @throws {Error} When `stty` is missing or fails, or the device cannot be
 * opened; the message says what to check.
 *
 * @example
 * ```ts ignore
 * import { openSerial } from "@nanorpc/nanorpc/transport";
 *
 * const line = await openSerial("/dev/ttyUSB0", { baud: 115200 });
 * await line.write(new Uint8Array([2, 16, 1])); // a PING frame
 * ```
 */
export async function openSerial(
  path: string,
  options: SerialOptions = {},
): Promise<SerialStream> {
  const baud = options.baud ?? 115200;
  if (!SERIAL_BAUD_RATES.includes(baud)) {
    throw new RangeError(
      `Baud rate ${baud} is not one stty can set; use one of ${
        SERIAL_BAUD_RATES.join(", ")
      }`,
    );
  }
  await stty(path, baud);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch (error) {
    throw new Error(
      `Could not open the serial device ${path}: ${
        message(error)
      }; check that it exists and that you may use it`,
      { cause: error },
    );
  }
  return new SerialAdapter(file, path, baud);
}

async function stty(path: string, baud: number): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("stty", {
      args: ["-F", path, "raw", "-echo", String(baud)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new Error(
      `Could not run stty to set up ${path}: ${
        message(error)
      }; install coreutils`,
      { cause: error },
    );
  }
  if (!output.success) {
    const why = new TextDecoder().decode(output.stderr).trim();
    throw new Error(
      `stty could not set ${path} to raw mode at ${baud} baud: ${why}; check that the device exists and that you may use it (e.g. the dialout group)`,
    );
  }
}

interface Carry {
  buffer: Uint8Array;
  result: Promise<number | null>;
}

class SerialAdapter implements SerialStream {
  readonly transport = "serial";
  readonly remoteAddr: { transport: "serial"; path: string };
  readonly path: string;
  readonly baud: number;
  #file: Deno.FsFile;
  #carry: Carry | undefined;
  #leftover: Uint8Array | undefined;
  #closed = false;

  constructor(file: Deno.FsFile, path: string, baud: number) {
    this.#file = file;
    this.path = path;
    this.baud = baud;
    this.remoteAddr = { transport: "serial", path };
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new Error(`The serial line ${this.path} is closed`);
    if (!this.#leftover && this.#carry) {
      const { buffer: own, result } = this.#carry;
      const n = await this.#guard(result);
      this.#carry = undefined;
      if (n === null) return null;
      this.#leftover = own.subarray(0, n);
    }
    if (this.#leftover) {
      const chunk = this.#leftover;
      const n = Math.min(buffer.length, chunk.length);
      buffer.set(chunk.subarray(0, n));
      this.#leftover = n < chunk.length ? chunk.subarray(n) : undefined;
      return n;
    }
    return this.#guard(this.#file.read(buffer));
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error(`The serial line ${this.path} is closed`);
    for (let at = 0; at < data.length;) {
      at += await this.#guard(this.#file.write(data.subarray(at)));
    }
  }

  async discardUntilQuiet(gap: number = quietGap(this.baud)): Promise<number> {
    let discarded = this.#leftover?.length ?? 0;
    this.#leftover = undefined;
    for (;;) {
      if (this.#closed) {
        throw new Error(`The serial line ${this.path} is closed`);
      }
      const carry = this.#carry ??= this.#readAhead();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const quiet = new Promise<"quiet">((resolve) =>
        timer = setTimeout(() => resolve("quiet"), gap)
      );
      const outcome = await Promise.race([carry.result, quiet]).finally(() =>
        clearTimeout(timer)
      );
      if (outcome === "quiet") return discarded;
      this.#carry = undefined;
      if (outcome === null) {
        // Ended: the next read sees the end too.
        this.#carry = { buffer: carry.buffer, result: Promise.resolve(null) };
        return discarded;
      }
      discarded += outcome;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#leftover = undefined;
    try {
      this.#file.close();
    } catch {
      // Closed already.
    }
  }

  #readAhead(): Carry {
    const buffer = new Uint8Array(4096);
    const result = this.#guard(this.#file.read(buffer));
    // Left pending across a quiet gap: handled by the next read or discard.
    result.catch(() => {});
    return { buffer, result };
  }

  /** Rewords device failures so the reader learns what happened. */
  async #guard<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      if (this.#closed) throw error;
      throw new Error(
        `The serial device ${this.path} failed: ${
          message(error)
        }; it may have been unplugged`,
        { cause: error },
      );
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
