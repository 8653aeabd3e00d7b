// The stream of a serial device Deno opened directly (with --allow-all):
// two descriptors, reads that time out (see openSerial) and what a closed
// stream's pending read brings handed to the next stream on the path.

import type { SerialStream } from "./serial.ts";
import { guardHangups } from "./_hangup.ts";
import { message } from "./_serial_message.ts";

/**
 * What reads left pending by closed streams bring, by device path: the
 * next stream opened on the path in this process takes it first, if it
 * comes within {@link LEFTOVER_MS} (later, the bytes are as stale as
 * what the kernel drops at a last close, and the device may be another).
 */
const leftovers = new Map<string, Promise<Uint8Array | null>>();

/** Keeps `left` for the next stream on `path`, while it is worth it. */
function leave(path: string, left: Promise<Uint8Array | null>): void {
  leftovers.set(path, left);
  const forget = () => {
    if (leftovers.get(path) === left) leftovers.delete(path);
  };
  left.then((bytes) => {
    if (!bytes?.length) return forget();
    Deno.unrefTimer(setTimeout(forget, LEFTOVER_MS));
  });
}

export class SerialAdapter implements SerialStream {
  readonly transport = "serial";
  readonly remoteAddr: { transport: "serial"; path: string };
  readonly path: string;
  readonly baud: number;
  #in: Deno.FsFile;
  #out: Deno.FsFile;
  #closed = false;
  /** Rejects on close: a write the device does not take settles then. */
  #closing = Promise.withResolvers<never>();
  /** Ends ignoring SIGHUP for this line (see _hangup.ts). */
  #unguard: () => void;
  /** What a stream closed before this one on the path read after it. */
  #inherited: Promise<Uint8Array | null> | undefined;
  /** Bytes taken over and not yet read. */
  #carry: Uint8Array | undefined;
  /** The device read in flight, into {@link #scratch}. */
  #reading: Promise<number | null> | undefined;
  /**
   * What the device reads into: a read pending at close ends later, and
   * must not write into a buffer its caller has taken back.
   */
  #scratch = new Uint8Array(0);

  constructor(
    input: Deno.FsFile,
    output: Deno.FsFile,
    path: string,
    baud: number,
  ) {
    this.#in = input;
    this.#out = output;
    this.path = path;
    this.baud = baud;
    this.remoteAddr = { transport: "serial", path };
    this.#closing.promise.catch(() => {});
    this.#unguard = guardHangups(path);
    this.#inherited = leftovers.get(path);
    leftovers.delete(path);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) {
      return Promise.reject(
        new Error(`The serial line ${this.path} is closed`),
      );
    }
    return this.#guard(
      Promise.race([this.#read(buffer), this.#closing.promise]),
    );
  }

  async #read(buffer: Uint8Array): Promise<number | null> {
    if (this.#inherited) {
      const bytes = await this.#inherited;
      if (this.#closed) return null;
      this.#inherited = undefined;
      if (bytes !== null && bytes.length > 0) this.#carry = bytes;
    }
    const carry = this.#carry;
    if (carry) {
      const n = Math.min(carry.length, buffer.length);
      buffer.set(carry.subarray(0, n));
      this.#carry = n < carry.length ? carry.subarray(n) : undefined;
      return n;
    }
    if (buffer.length > this.#scratch.length) {
      this.#scratch = new Uint8Array(buffer.length);
    }
    const into = this.#scratch.subarray(0, buffer.length);
    for (;;) {
      const started = performance.now();
      this.#reading = this.#in.read(into);
      const n = await this.#reading;
      this.#reading = undefined;
      if (this.#closed) return null;
      if (n !== null) {
        buffer.set(into.subarray(0, n));
        return n;
      }
      // No byte in READ_TIMEOUT_MS: read on. Nothing at once: the device
      // hung up (a line has no end of file), which #guard rewords.
      if (performance.now() - started < READ_TIMEOUT_MS / 2) {
        throw new Error("it hung up");
      }
    }
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error(`The serial line ${this.path} is closed`);
    // In pieces: a write Deno cannot cancel holds at most one of them
    // when the line closes.
    for (let at = 0; at < data.length;) {
      const piece = this.#out.write(data.subarray(at, at + WRITE_PIECE));
      at += await this.#guard(Promise.race([piece, this.#closing.promise]));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unguard();
    this.#closing.reject(new Error(`The serial line ${this.path} is closed`));
    closeQuietly(this.#out);
    // Closing the file would not stop a device read in flight: it would
    // go on in its thread and take the next bytes from whoever opens the
    // device next. It ends within READ_TIMEOUT_MS; what it brings (or
    // what this stream took over and did not read) is left to them.
    const reading = this.#reading;
    const scratch = this.#scratch;
    let left = this.#inherited ??
      (this.#carry ? Promise.resolve(this.#carry) : undefined);
    if (reading) {
      left = reading.then(
        (n) => n === null ? null : scratch.slice(0, n),
        () => null,
      );
      left.finally(() => closeQuietly(this.#in));
    } else closeQuietly(this.#in);
    if (left) leave(this.path, left);
  }

  /** Rewords device failures so the reader learns what happened. */
  async #guard<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      // Closed here: whichever way the operation ended, that is why.
      if (this.#closed) {
        throw new Error(`The serial line ${this.path} is closed`, {
          cause: error,
        });
      }
      throw new Error(
        `The serial device ${this.path} failed: ${
          message(error)
        }; it may have been unplugged`,
        { cause: error },
      );
    }
  }
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Closed already.
  }
}

/** Bytes handed to the device per write call. */
const WRITE_PIECE = 4096;
/**
 * Milliseconds a device read waits for a first byte before it returns
 * none (`stty time`, in tenths of a second): how long a read pending at
 * close outlives it.
 */
export const READ_TIMEOUT_MS = 500;
/** How long a closed stream's leftover bytes wait for the next stream. */
const LEFTOVER_MS = 1000;
