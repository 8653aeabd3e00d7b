/**
 * Keepalive: pings a connection that has been quiet for `interval` and
 * drops it when nothing at all comes back within `timeout`.
 *
 * @module
 */

import type { Connection } from "./_connection.ts";
import { ConnectionLostError, TimeoutError } from "./errors.ts";
import { clampDelay } from "./_timer.ts";

/** Keepalive settings, both > 0 milliseconds. */
export interface KeepaliveSettings {
  interval: number;
  timeout: number;
}

/**
 * Starts watching `connection`; `ping` sends a PING with a time limit.
 *
 * @returns Stops the watch.
 */
export function keepalive(
  connection: Connection,
  settings: KeepaliveSettings,
  ping: (timeout: number) => Promise<unknown>,
): () => void {
  const { interval, timeout } = settings;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const probe = () => {
    ping(timeout).catch((error) => {
      const silent = performance.now() - connection.lastReceived >= timeout;
      if (error instanceof TimeoutError && silent && !connection.closed) {
        connection.close(
          new ConnectionLostError(
            `No answer to a keepalive ping within ${timeout} ms; the server looks dead, reconnecting`,
          ),
        );
      }
    });
  };
  const tick = () => {
    if (connection.closed) return;
    if (performance.now() - connection.lastReceived >= interval) probe();
    timer = setTimeout(tick, clampDelay(interval));
  };
  timer = setTimeout(tick, clampDelay(interval));
  return () => clearTimeout(timer);
}
