/**
 * Draining a server: moving its sessions off it, spread over a window, so
 * that clients reconnect elsewhere without all arriving at once.
 *
 * @module
 */

/**
 * Options of `server.drain()`.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * await server.listen({ port: 0 });
 * // Deploying: move the sessions off over 30 s, then stop.
 * await server.drain({ window: 0 });
 * await server.shutdown();
 * ```
 */
export interface DrainOptions {
  /**
   * Milliseconds over which the sessions are closed, each at a random
   * moment of its own slot of the window (so closes are evenly spread and
   * jittered). Default 10,000; 0 closes them all at once.
   */
  window?: number;
  /**
   * Stop accepting first: close every listener and refuse sessions served
   * through `server.serve()`. With `false` the server keeps accepting, and
   * a closed session that holds a resume token lingers, so a client that
   * comes back here resumes (e.g. to rebalance connections behind a load
   * balancer). Default `true`: sessions simply close, since nothing could
   * resume them here.
   */
  stopAccepting?: boolean;
  /**
   * How long a busy session (a handler running) is given to finish before
   * it is closed anyway, in ms (Infinity: until it finishes). Default 1,000.
   */
  settleTimeout?: number;
  /** Stops draining: sessions not yet closed stay. */
  signal?: AbortSignal;
}
