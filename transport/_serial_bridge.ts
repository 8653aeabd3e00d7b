// A serial line reached through two coreutils processes, for programs that
// may not open device files themselves: Deno asks for --allow-all to open
// anything under /dev (a device can do more than a file), while
// --allow-run=cat,dd lets `cat PATH` read the line and `dd of=PATH` write
// it. The line is already raw (stty), so both pass bytes untouched, and
// `dd` writes each chunk as soon as it reads it (no fullblock).

import type { PeerAddress } from "./byte_stream.ts";
import type { SerialStream } from "./serial.ts";
import { webStreamPair } from "./web_streams.ts";

/** Most of a helper's error output kept for the message. */
const STDERR_KEPT = 2048;

/**
 * Milliseconds `dd` gets after close to write what is still in its pipe
 * (a write resolves once the pipe took it) before it is killed.
 */
const CLOSE_GRACE_MS = 2000;

/** A {@link SerialStream} whose I/O runs in `cat` and `dd`. */
export interface BridgedSerial extends SerialStream {
  /** Settles once both helper processes have exited. */
  readonly exited: Promise<void>;
}

/**
 * Starts `cat PATH` and `dd of=PATH` and adapts their pipes.
 *
 * @throws {Deno.errors.NotCapable} When `cat` or `dd` may not be run.
 * @throws {Error} When they cannot be started.
 */
export function bridgeSerial(path: string, baud: number): BridgedSerial {
  const reader = spawn("cat", ["--", path], "stdout");
  let writer: Helper;
  try {
    writer = spawn("dd", [
      `of=${path}`,
      "bs=65536",
      // nocreat: a device gone before dd starts must not become a file.
      "conv=notrunc,nocreat",
      "status=none",
    ], "stdin");
  } catch (error) {
    reader.kill();
    throw error;
  }
  return new Bridge(path, baud, reader, writer);
}

interface Helper {
  child: Deno.ChildProcess;
  status: Promise<Deno.CommandStatus>;
  stderr: () => string;
  kill(): void;
}

function spawn(cmd: string, args: string[], pipe: "stdin" | "stdout"): Helper {
  const child = new Deno.Command(cmd, {
    args,
    stdin: pipe === "stdin" ? "piped" : "null",
    stdout: pipe === "stdout" ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of child.stderr) {
      text = (text + decoder.decode(chunk, { stream: true }))
        .slice(-STDERR_KEPT);
    }
  })().catch(() => {});
  const status = child.status.then(async (s) => {
    await drained;
    return s;
  });
  let exited = false;
  status.finally(() => exited = true);
  return {
    child,
    status,
    stderr: () => text.trim(),
    kill: () => {
      if (exited) return;
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited between the check and the kill.
      }
    },
  };
}

class Bridge implements BridgedSerial {
  readonly transport = "serial";
  readonly remoteAddr: PeerAddress;
  readonly path: string;
  readonly baud: number;
  readonly exited: Promise<void>;
  #reader: Helper;
  #writer: Helper;
  #pair;
  #closed = false;

  constructor(path: string, baud: number, reader: Helper, writer: Helper) {
    this.path = path;
    this.baud = baud;
    this.remoteAddr = { transport: "serial", path };
    this.#reader = reader;
    this.#writer = writer;
    this.#pair = webStreamPair({
      readable: reader.child.stdout,
      writable: writer.child.stdin,
    }, { remoteAddr: this.remoteAddr });
    this.exited = Promise.all([reader.status, writer.status]).then(() => {});
    // One helper failing (the device went away) ends the other; after
    // close, dd is left to write out its pipe (see close).
    reader.status.then(() => this.#closed || writer.kill());
    writer.status.then(() => reader.kill());
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new Error(`The serial line ${this.path} is closed`);
    let n: number | null;
    try {
      n = await this.#pair.read(buffer);
    } catch (error) {
      throw this.#failed(error, this.#reader);
    }
    if (n !== null || this.#closed) return n;
    // `cat` of a line never ends by itself: the device failed.
    await this.#reader.status;
    throw this.#failed(undefined, this.#reader);
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error(`The serial line ${this.path} is closed`);
    try {
      await this.#pair.write(data);
    } catch (error) {
      throw this.#failed(error, this.#writer);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Closing the pair ends dd's input: dd writes what the pipe still holds
    // and exits. Killing it at once would lose writes that already resolved.
    this.#pair.close();
    this.#reader.kill();
    const writer = this.#writer;
    const timer = setTimeout(() => writer.kill(), CLOSE_GRACE_MS);
    Deno.unrefTimer(timer);
    writer.status.finally(() => clearTimeout(timer));
  }

  #failed(cause: unknown, helper: Helper): Error {
    if (this.#closed) {
      return new Error(`The serial line ${this.path} is closed`, { cause });
    }
    const why = helper.stderr() ||
      (cause instanceof Error ? cause.message : "its helper process ended");
    return new Error(
      `The serial device ${this.path} failed: ${why}; it may have been unplugged`,
      { cause },
    );
  }
}
