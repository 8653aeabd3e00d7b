/**
 * Options, context and counters of {@link Workers}.
 *
 * @module
 */

import type { Broker } from "../server/broker.ts";
import type { DrainOptions } from "../server/drain.ts";
import type { Forwarder } from "../server/forward.ts";
import type { Listener, ListenOptions } from "../server/listener.ts";
import type { Server } from "../server/server.ts";
import type { ServerStats } from "../server/stats.ts";
// deno-lint-ignore no-unused-vars
import type { Workers } from "./workers.ts";

/**
 * What every worker's module gets.
 *
 * @example
 * ```ts ignore
 * import type { WorkerContext } from "@nanorpc/nanorpc/cluster";
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * export default async function app(ctx: WorkerContext): Promise<Server> {
 *   const server = new Server(ctx.options);
 *   server.handle("/whoami", () => `worker ${ctx.index} of ${ctx.count}`);
 *   await ctx.listen(server, { hostname: "0.0.0.0", port: 7411 });
 *   return server;
 * }
 * ```
 */
export interface WorkerContext {
  /** This worker's number, from 0. */
  readonly index: number;
  /** How many workers the pool has. */
  readonly count: number;
  /** {@link WorkersOptions.data}, cloned. */
  readonly data: unknown;
  /** Give these to the worker's `Server`: the shared broker (and forwarder). */
  readonly options: { readonly broker: Broker; readonly forward?: Forwarder };
  /**
   * Binds `target` on `server` the pool's way: TCP and TLS with
   * `reusePort` on the same port in every worker (port 0 is resolved by
   * worker 0); UNIX sockets and HTTP listeners in worker 0 only (the
   * others get `undefined`).
   */
  listen(server: Server, target: ListenOptions): Promise<Listener | undefined>;
  /** Resolves when the pool stops; the pool then shuts the server down. */
  readonly stopping: Promise<void>;
  /**
   * The pool's metrics in the Prometheus text format, as
   * {@link Workers.metrics} gives them: serve them from worker 0's HTTP
   * listener with `metricsHandler({ metrics: ctx.metrics })`.
   */
  metrics(): Promise<string>;
}

/**
 * The default export of a worker module: builds the worker's server with
 * `ctx.options`, listens with `ctx.listen`, and returns the server.
 *
 * @example
 * ```ts ignore
 * import type { WorkerMain } from "@nanorpc/nanorpc/cluster";
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const app: WorkerMain = async (ctx) => {
 *   const server = new Server(ctx.options);
 *   server.handle("/echo", (c) => c.data);
 *   await ctx.listen(server, { port: 7411 });
 *   return server;
 * };
 * export default app;
 * ```
 */
export type WorkerMain = (ctx: WorkerContext) => Server | Promise<Server>;

/**
 * Options of {@link Workers.start}.
 *
 * @example
 * ```ts ignore
 * import { Workers, type WorkersOptions } from "@nanorpc/nanorpc/cluster";
 *
 * const options: WorkersOptions = {
 *   count: navigator.hardwareConcurrency,
 *   module: new URL("./app.ts", import.meta.url),
 *   stopTimeout: 20_000,
 *   onWorkerExit: (index, reason) => console.error(index, reason),
 * };
 * const pool = await Workers.start(options);
 * ```
 */
export interface WorkersOptions {
  /** How many workers; at least 1. */
  count: number;
  /**
   * The module every worker imports; its default export is a
   * {@link WorkerMain}. A URL, or a file path (relative to the current
   * directory).
   */
  module: string | URL;
  /** Passed to every worker's module (structured-cloned). */
  data?: unknown;
  /** Share through NATS instead of `BroadcastChannel`. */
  nats?: {
    /** NATS server URL(s). */
    servers: string | string[];
    /** Subject prefix; `"nanorpc"` by default. */
    prefix?: string;
    /** Client name; each worker appends `-<index>`. */
    name?: string;
  };
  /** Milliseconds a worker may take to start; 30000 by default. */
  startTimeout?: number;
  /**
   * Milliseconds a worker may take to stop gracefully in
   * {@link Workers.shutdown} (its server's own `shutdownTimeout`
   * included: keep this above it) before it is terminated; 30000 by
   * default (`--stop-timeout` of `deno task server --workers N`).
   */
  stopTimeout?: number;
  /**
   * Called when a started worker dies (an uncaught error) or ends itself
   * (`Deno.exit`, `close()`); the pool goes on without it (its sessions
   * are gone, and with worker 0 the UNIX and HTTP listeners).
   * `deno task server --workers N` stops the pool then and exits 1. A
   * worker ending itself is known by the message it sends as it ends,
   * which Deno may drop under load: then the pool takes it for a wedged
   * one (`stats()`, `metrics()` and `drain()` leave it out after their
   * timeout, `shutdown()` terminates it after `stopTimeout`). A worker
   * that ends while the pool is still starting is reported as the pool is
   * made, before `start()` resolves.
   */
  onWorkerExit?: (index: number, reason: string) => void;
}

/**
 * Options of {@link Workers.stats} and {@link Workers.metrics}.
 *
 * @example
 * ```ts ignore
 * import type { WorkersQueryOptions } from "@nanorpc/nanorpc/cluster";
 *
 * const quick: WorkersQueryOptions = { timeout: 1000 };
 * console.log((await pool.stats(quick)).workers, "workers answered");
 * ```
 */
export interface WorkersQueryOptions {
  /**
   * How long to wait for each worker, in ms; one that has not answered
   * by then is left out. Default 5000.
   */
  timeout?: number;
}

/**
 * Options of {@link Workers.drain}: those of `server.drain()`, which every
 * worker's server gets, and how long to wait for each worker.
 *
 * @example
 * ```ts ignore
 * import type { WorkersDrainOptions } from "@nanorpc/nanorpc/cluster";
 *
 * // Over 30 s; a worker not done 10 s after that is left out.
 * const options: WorkersDrainOptions = { window: 30_000, timeout: 40_000 };
 * await pool.drain(options);
 * ```
 */
export interface WorkersDrainOptions extends DrainOptions {
  /**
   * How long to wait for each worker, in ms; one that has not drained by
   * then is left out of the result (and logged) and goes on draining until
   * {@link Workers.shutdown} stops it. Default: the window, plus
   * `settleTimeout`, plus 5,000 (no limit when `settleTimeout` is
   * Infinity).
   */
  timeout?: number;
}

/**
 * Counters of a pool: the sum over its workers.
 *
 * @example
 * ```ts ignore
 * import type { WorkersStats } from "@nanorpc/nanorpc/cluster";
 *
 * const s: WorkersStats = await pool.stats();
 * console.log(`${s.sessions} sessions on ${s.workers} workers`);
 * ```
 */
export interface WorkersStats extends ServerStats {
  /** Workers that reported. */
  workers: number;
}
