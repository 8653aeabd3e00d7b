/**
 * Keeping a serial device in service: open it, hand it to the caller, and
 * open it again whenever it goes away and comes back (a USB adapter
 * unplugged and plugged in, a pty whose other end restarted).
 *
 * @module
 */

import { consoleError } from "../protocol/_console_text.ts";
import { openSerial, type SerialOptions, type SerialStream } from "./serial.ts";

/** How {@link watchSerial} opens and reopens a device. */
export interface WatchSerialOptions extends SerialOptions {
  /** Stops watching; the current stream is closed. */
  signal?: AbortSignal;
  /** First pause in ms before reopening; 100 by default. */
  initialDelay?: number;
  /** Longest pause in ms between attempts; 5000 by default. */
  maxDelay?: number;
  /**
   * Told about every failed open and every stream that ended with an
   * error, for logging; the watch goes on regardless. If it throws, the
   * error is written to `console.error` and the watch goes on.
   */
  onError?: (error: Error) => void;
}

/** A running {@link watchSerial}. */
export interface SerialWatch extends AsyncDisposable {
  /** The open stream, if the device is there now. */
  readonly current: SerialStream | undefined;
  /** How many times the device was opened. */
  readonly opens: number;
  /** How many attempts to open it failed. */
  readonly failures: number;
  /** Stops watching, closes the current stream, and waits for `onStream`. */
  close(): Promise<void>;
}

/**
 * Opens `path` with {@link openSerial} and calls `onStream` with the stream;
 * when the promise `onStream` returns settles (its session saw the device
 * fail or end), the stream is closed and the device opened again. Failed
 * opens (the device is not there yet) are retried with a pause that doubles
 * from `initialDelay` to `maxDelay`; the pause starts small again after a
 * stream that lasted at least `maxDelay`.
 *
 * @param path The device.
 * @param options Baud rate, pauses, cancellation and error reporting.
 * @param onStream Serves one stream; resolve when it is done with it.
 * @returns The watch; `close()` it (or `await using` it) to stop.
 * @throws {Error} When this process watches `path` (or the device it
 * links to) already: two readers would split the line's bytes.
 *
 * @example Serving NanoRPC on a USB serial adapter that may be unplugged
 * ```ts ignore
 * import { watchSerial } from "@nanorpc/nanorpc/transport";
 *
 * await using watch = watchSerial(
 *   "/dev/ttyUSB0",
 *   { baud: 115200, onError: (e) => console.warn(e.message) },
 *   async (stream) => {
 *     const buffer = new Uint8Array(4096);
 *     let n;
 *     while ((n = await stream.read(buffer)) !== null) {
 *       await stream.write(buffer.subarray(0, n)); // echo
 *     }
 *   },
 * );
 * ```
 */
export function watchSerial(
  path: string,
  options: WatchSerialOptions,
  onStream: (stream: SerialStream) => Promise<void> | void,
): SerialWatch {
  const key = devicePath(path);
  if (watched.has(key)) {
    // Both would read the line, each taking bytes meant for the other.
    throw new Error(
      `${path} is watched already in this process (serveSerial or watchSerial): close that watch first`,
    );
  }
  const initial = Math.max(1, options.initialDelay ?? 100);
  const max = Math.min(
    2 ** 31 - 1,
    Math.max(initial, options.maxDelay ?? 5000),
  );
  const stop = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stop.signal])
    : stop.signal;
  const report = (error: unknown) => {
    const err = error instanceof Error ? error : new Error(String(error));
    try {
      options.onError?.(err);
    } catch (thrown) {
      // The watch must go on: a failing logger cannot end it (or the
      // process, from this detached loop).
      consoleError(
        `watchSerial ${path}: onError threw while reporting "${err.message}":`,
        thrown,
      );
    }
  };
  const state = {
    current: undefined as SerialStream | undefined,
    opens: 0,
    failures: 0,
  };
  const closeCurrent = () => state.current?.close();
  signal.addEventListener("abort", closeCurrent, { once: true });

  const loop = (async () => {
    let delay = initial;
    while (!signal.aborted) {
      let stream: SerialStream;
      try {
        stream = await openSerial(path, options);
      } catch (error) {
        state.failures++;
        report(error);
        await pause(delay, signal);
        delay = Math.min(delay * 2, max);
        continue;
      }
      if (signal.aborted) {
        stream.close();
        break;
      }
      state.opens++;
      state.current = stream;
      const openedAt = performance.now();
      try {
        await onStream(stream);
      } catch (error) {
        if (!signal.aborted) report(error);
      } finally {
        state.current = undefined;
        stream.close();
      }
      if (performance.now() - openedAt >= max) delay = initial;
      await pause(delay, signal);
      delay = Math.min(delay * 2, max);
    }
    signal.removeEventListener("abort", closeCurrent);
  })().finally(() => watched.delete(key));
  watched.add(key);

  const close = async () => {
    stop.abort();
    await loop;
  };
  return {
    get current() {
      return state.current;
    },
    get opens() {
      return state.opens;
    },
    get failures() {
      return state.failures;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The devices watched in this process, by {@link devicePath}. */
const watched = new Set<string>();

/**
 * `path` with symbolic links resolved (`/dev/serial/by-id/...` names a
 * `/dev/ttyUSB*`), or as given while the device is not there.
 */
function devicePath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

/** Waits `ms`, or less if `signal` aborts; leaves no timer behind. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
