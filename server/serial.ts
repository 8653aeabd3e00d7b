/**
 * Serving a serial line (a UART, an RS-232 or RS-485 adapter, a pty) as one
 * session that outlives the device being unplugged.
 *
 * @module
 */

import { quietGap, SERIAL_BAUD_RATES } from "../transport/serial.ts";
import {
  type SerialWatch,
  watchSerial,
  type WatchSerialOptions,
} from "../transport/watch_serial.ts";
import type { Server } from "./server.ts";

/** How {@link serveSerial} opens the device and recovers from bad frames. */
export interface ServeSerialOptions extends WatchSerialOptions {
  /**
   * Milliseconds of silence that end a garbled or cut-short frame (see
   * `ServeOptions.resyncQuietMs`); `quietGap(baud)` by default: 3.5
   * character times, at least 20 ms.
   */
  quietMs?: number;
}

/**
 * Serves the serial device at `path` as one session of `server`. The device
 * is put in raw mode at `baud` with `stty -F PATH raw -echo clocal BAUD`
 * and opened (with `--allow-all` directly, reads then timing out after
 * 0.5 s; otherwise through `cat` and `dd`, which needs
 * `--allow-run=stty,cat,dd`: see `openSerial`), and served
 * with the line's resynchronisation rule: a malformed frame does not end
 * the session; what is buffered is dropped, bytes are
 * dropped until the line has been quiet for `quietMs`, and parsing starts
 * again (`server.stats().resyncs` counts it). The same silence in the
 * middle of a frame ends that frame too.
 *
 * When the device fails or disappears (a USB adapter unplugged) the session
 * closes, and the device is reopened (backing off from `initialDelay` to
 * `maxDelay`) until it is back, then served as a new session. A device
 * missing at the start is waited for the same way; every failed attempt
 * goes to `onError`.
 *
 * It stops when `signal` aborts, when the returned watch is closed, or when
 * the server shuts down (the session is then drained and closed like any
 * other, and `shutdown()` settles once the device is closed).
 *
 * @param server The server whose handlers answer the line.
 * @param path The device, e.g. `/dev/ttyUSB0`.
 * @param options Baud rate, quiet gap, reopening pauses, `signal`,
 * `onError`.
 * @returns The watch over the device: `current`, `opens`, `failures`,
 * `close()`.
 * @throws {RangeError} When `baud` is not a rate `stty` can set.
 *
 * @example
 * ```ts ignore
 * import { Server, serveSerial } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.handle("/echo", (ctx) => ctx.data);
 * serveSerial(server, "/dev/ttyUSB0", {
 *   baud: 115200,
 *   onError: (error) => console.warn(error.message),
 * });
 * // ... later: stops the line too.
 * await server.shutdown();
 * ```
 */
export function serveSerial(
  server: Server,
  path: string,
  options: ServeSerialOptions = {},
): SerialWatch {
  const baud = options.baud ?? 115200;
  // openSerial would say so on every attempt; say it once, now.
  if (!SERIAL_BAUD_RATES.includes(baud)) {
    throw new RangeError(
      `Baud rate ${baud} is not one stty can set; use one of ${
        SERIAL_BAUD_RATES.join(", ")
      }`,
    );
  }
  const resyncQuietMs = options.quietMs ?? quietGap(baud);
  if (!(resyncQuietMs > 0)) {
    throw new RangeError(
      `quietMs must be a number of milliseconds > 0, got ${resyncQuietMs}`,
    );
  }
  const stop = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stop.signal])
    : stop.signal;
  let shuttingDown = false;
  const watch = watchSerial(
    path,
    { ...options, baud, signal },
    async (stream) => {
      await server.serve(stream, { resyncQuietMs });
      // Closed by the shutdown's drain, or refused by it: do not reopen.
      if (shuttingDown) stop.abort();
    },
  );
  server.register({
    beforeShutdown() {
      shuttingDown = true;
      // A session on the line is drained by the server; stop at its end.
      if (!watch.current) stop.abort();
    },
    // Every session has closed: the watch ends without waiting for it.
    shutdown: () => watch.close(),
  }, { name: `serial ${path}` });
  return watch;
}
