/**
 * The byte-stream adapter of serial lines (RS-232, RS-485, UART bridges)
 * and pseudo-terminals, and the facts a session needs about them.
 *
 * A serial line is not a connection: nothing tells the two ends that the
 * other one restarted, and there is nothing to close when a frame is
 * malformed. A session on a line therefore recovers instead of hanging up:
 * it discards what it has buffered, waits until the line has been quiet
 * for {@link quietGap}, and parses anew from the next byte (the server's
 * connection loop does this for any stream served with `resyncQuietMs`).
 * A peer re-synchronises by pausing at least that long between bursts.
 *
 * @module
 */

import type { ByteStream } from "./byte_stream.ts";
import { bridgeSerial } from "./_serial_bridge.ts";
import { READ_TIMEOUT_MS, SerialAdapter } from "./_serial_adapter.ts";
import { message } from "./_serial_message.ts";
import { SERIAL_BAUD_RATES } from "./_baud_rates.ts";

export { SERIAL_BAUD_RATES };

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
 * raw mode at `baud` by running `stty -F PATH raw -echo clocal BAUD`
 * (`stty` is part of coreutils; `clocal` ignores the modem control lines,
 * so a 3-wire line with no carrier detect opens).
 *
 * Permissions: Deno opens device files (anything under `/dev`, ptys
 * included) only with `--allow-all`. With it the device is opened directly
 * (two descriptors, one for each direction) and set to `min 0 time 5`
 * too, so that a read that gets no byte returns after 0.5 s: Deno reads
 * a device in a thread that closing the file does not stop, so a read
 * pending at `close()` is left to end by itself (its descriptor closes
 * then), and what it brings goes to the next stream opened on `path` in
 * this process within a second. The device keeps those settings after
 * the process ends. Without it the
 * line is bridged through two coreutils processes, `cat PATH` reading and
 * `dd of=PATH` writing, so `--allow-run=stty,cat,dd` with `--allow-read
 * --allow-write` is enough (what `deno task server` grants).
 *
 * The stream's `close()` closes the device (its reading descriptor up to
 * 0.5 s later); a pending read ends at once. A device
 * that is unplugged makes `read` and `write` throw; {@link watchSerial}
 * reopens it when it comes back.
 *
 * @param path The device, e.g. `/dev/ttyUSB0` or a pty.
 * @param options The baud rate.
 * @returns The open stream.
 * @throws {RangeError} When `baud` is not a rate `stty` can set.
 * @throws {Error} When `stty` is missing or fails, or the device cannot be
 * opened; the message says what to check.
 * @throws {Deno.errors.NotCapable} When neither the device nor `cat` and
 * `dd` may be used; the message names the flags.
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
  // clocal: ignore modem control lines. A 3-wire UART has no carrier
  // detect, and with -clocal opening it would wait for one forever. min 0
  // time N: a read with no byte returns after N tenths of a second (see
  // SerialAdapter.close), set at once so that no read of another stream
  // on the line blocks for good in between.
  await stty(
    path,
    [
      "raw",
      "-echo",
      "clocal",
      String(baud),
      "min",
      "0",
      "time",
      String(READ_TIMEOUT_MS / 100),
    ],
    `raw mode at ${baud} baud`,
  );
  // Two descriptors: Deno runs one file's operations one at a time, so a
  // write on the descriptor a read is pending on would wait for that read.
  const files: Deno.FsFile[] = [];
  try {
    files.push(await Deno.open(path, { read: true }));
    files.push(await Deno.open(path, { write: true }));
  } catch (error) {
    for (const file of files) file.close();
    if (needsAllAccess(error)) {
      // cat takes a read of no bytes for the end: reads block again.
      await stty(path, ["min", "1", "time", "0"], "blocking reads");
      return bridge(path, baud, error);
    }
    throw new Error(
      `Could not open the serial device ${path}: ${
        message(error)
      }; check that it exists and that you may use it`,
      { cause: error },
    );
  }
  return new SerialAdapter(files[0], files[1], path, baud);
}

/** Deno opens device files only with --allow-all. */
function needsAllAccess(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable &&
    /all access/i.test(error.message);
}

function bridge(path: string, baud: number, refused: unknown): SerialStream {
  try {
    return bridgeSerial(path, baud);
  } catch (error) {
    const why = error instanceof Deno.errors.NotCapable
      ? "this process may run neither"
      : message(error);
    throw new Deno.errors.NotCapable(
      `Deno opens the device ${path} only with --allow-all; without it the line is bridged through cat and dd, which needs --allow-run=stty,cat,dd (${why})`,
      { cause: refused },
    );
  }
}

/** Runs `stty -F path ...settings`; `what` names them in the error. */
async function stty(
  path: string,
  settings: string[],
  what: string,
): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("stty", {
      args: ["-F", path, ...settings],
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
      `stty could not set ${path} to ${what}: ${why}; check that the device exists and that you may use it (e.g. the dialout group)`,
    );
  }
}
