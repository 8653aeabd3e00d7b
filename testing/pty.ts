/**
 * Test kit: a pair of connected pseudo-terminals made by `socat`, standing
 * in for the two ends of a serial cable. Bytes written to one end come out
 * of the other. Needs Debian's `socat` (`.ci/run` installs it) on `PATH`,
 * or named by the `SOCAT` environment variable. Outside CI a machine
 * without it skips those tests ({@link ptySkipReason}); in CI (`CI=true`)
 * they fail.
 *
 * @module
 */

import {
  binaryCommand,
  binarySkipReason,
  type NeededBinary,
} from "./_binary.ts";
import { waitFor } from "./wait.ts";

const SOCAT: NeededBinary = {
  command: "socat",
  envVar: "SOCAT",
  pkg: "socat",
  tests: "serial tests (they need socat for a pty pair)",
};

/**
 * Why tests that start a pty pair should be skipped here, or `undefined`
 * to run them: `socat` (or the path in `SOCAT`) is missing and this is not
 * CI. In CI (`CI=true`) it always returns `undefined`, so the tests run
 * and {@link startPtyPair} fails loudly. Prints the reason, with the
 * package to install, once.
 *
 * @returns The reason to skip, or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { ptySkipReason, startPtyPair } from "../testing/pty.ts";
 *
 * Deno.test("the line carries bytes", {
 *   ignore: ptySkipReason() !== undefined,
 * }, async () => {
 *   await using pair = await startPtyPair();
 *   console.log(pair.a, pair.b);
 * });
 * ```
 */
export function ptySkipReason(): string | undefined {
  return binarySkipReason(SOCAT);
}

/** Where to put the pair's two links. */
export interface PtyPairOptions {
  /**
   * Folder for the links `a` and `b`; a new temporary folder when omitted.
   * Pass the same folder again to bring a stopped pair back at the same
   * paths, as a device that disappears and comes back would.
   */
  dir?: string;
  /** Milliseconds to wait for both links to appear; 5000 by default. */
  timeout?: number;
}

/** A running pty pair. */
export interface PtyPair extends AsyncDisposable {
  /** Path of one end (a symbolic link to a `/dev/pts/N`). */
  readonly a: string;
  /** Path of the other end. */
  readonly b: string;
  /** The folder holding both links. */
  readonly dir: string;
  /**
   * Stops `socat` and waits until both links are gone. Removes the folder
   * only if this pair created it.
   */
  stop(): Promise<void>;
}

/**
 * Starts `socat -d -d pty,raw,echo=0,link=DIR/a pty,raw,echo=0,link=DIR/b`
 * and resolves once both links exist.
 *
 * @param options Folder and time limit.
 * @returns The pair; `stop()` it (or `await using` it) when done.
 * @throws {Error} When `socat` is missing or the links do not appear in
 * time; the message says how to install it.
 *
 * @example
 * ```ts ignore
 * import { startPtyPair } from "../testing/pty.ts";
 *
 * await using pair = await startPtyPair();
 * const a = await Deno.open(pair.a, { read: true, write: true });
 * const b = await Deno.open(pair.b, { read: true, write: true });
 * await a.write(new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(2);
 * await b.read(buf);
 * a.close();
 * b.close();
 * ```
 */
export async function startPtyPair(
  options: PtyPairOptions = {},
): Promise<PtyPair> {
  const owned = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "nanorpc_pty_" });
  const a = `${dir}/a`;
  const b = `${dir}/b`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binaryCommand(SOCAT), {
      args: [
        "-d",
        "-d",
        `pty,raw,echo=0,link=${a}`,
        `pty,raw,echo=0,link=${b}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (owned) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(
      `Could not start ${
        binaryCommand(SOCAT)
      }; install it (apt-get install socat) or set SOCAT to its path to run the serial tests`,
      { cause: error },
    );
  }
  const log = collect(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited between the check and the kill.
      }
    }
    await status;
    await log.done;
    await waitFor(() => !exists(a) && !exists(b), 5000).catch(() => {});
    if (owned) await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const appeared = await waitFor(
    () => exited || (exists(a) && exists(b)),
    options.timeout ?? 5000,
  ).then(() => !exited, () => false);
  if (!appeared) {
    await stop();
    throw new Error(
      `socat did not create the pty pair in ${dir}: ${log.text().trim()}`,
    );
  }
  return { a, b, dir, stop, [Symbol.asyncDispose]: stop };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Drains a byte stream into memory (bounded: the last 16 KiB kept). */
function collect(stream: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder();
  let text = "";
  const done = (async () => {
    for await (const chunk of stream) {
      text = (text + decoder.decode(chunk, { stream: true })).slice(-16384);
    }
  })().catch(() => {});
  return { done, text: () => text };
}
