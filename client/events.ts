/**
 * Connection state events a `Client` dispatches.
 *
 * @module
 */

/**
 * Where a client's connection is: `connecting` (dialling), `open`,
 * `waiting` (backing off before the next attempt) or `closed` (for good).
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nanorpc/nanorpc/client";
 *
 * const client = await connect("tcp://127.0.0.1:7411");
 * if (client.state === "open") await client.ping();
 * ```
 */
export type ClientState = "connecting" | "open" | "waiting" | "closed";

/** Names of the events a `Client` dispatches. */
export type ConnectionEventType = "connect" | "disconnect" | "reconnect";

/**
 * A change of the client's connection:
 * - `connect`: a connection opened (the first one and every later one);
 *   what its listeners send goes out before the subscriptions are made
 *   again and before the requests that waited for the connection, so a
 *   listener can log in again first (a server answers in order);
 * - `reconnect`: a connection opened after an earlier one was lost (comes
 *   right after its `connect`, unless a `connect` listener closed the
 *   client), before subscriptions and waiting requests go out, likewise;
 * - `disconnect`: an open connection ended; `error` says why (none when
 *   the client was closed on purpose). By the time listeners run, the
 *   client's `state` is no longer `open` (`waiting` when it will reconnect,
 *   `closed` otherwise), in-flight requests have been rejected, and a
 *   request made from the listener waits for the next connection.
 *
 * Listeners run synchronously while the client handles the change, as for
 * any `EventTarget`. One that throws, or whose promise rejects, disturbs
 * neither the client nor the other listeners: the error is reported to
 * `console.error`.
 *
 * @example
 * ```ts ignore
 * import { Client } from "@nanorpc/nanorpc";
 *
 * const client = new Client("tcp://127.0.0.1:7411");
 * client.addEventListener("disconnect", (event) => {
 *   console.warn("lost the server:", event.error?.message);
 * });
 * ```
 */
export class ConnectionEvent extends Event {
  /** Why the connection ended, for `disconnect`; otherwise undefined. */
  readonly error: Error | undefined;
  /** How many connections this client has opened, this one included. */
  readonly connections: number;
  /**
   * For `connect` and `reconnect` with the `resume` option: whether the
   * server resumed the session (subscriptions kept, missed updates
   * delivered) instead of starting a new one.
   */
  readonly resumed: boolean;
  /**
   * When `resumed`: updates the server dropped while the client was away.
   * A lower bound: updates still queued for, or written to, the connection
   * that dropped are lost uncounted.
   */
  readonly lostUpdates: number;

  /**
   * Creates a connection event.
   *
   * @param type The event name.
   * @param init Why the connection ended, and the connection count.
   */
  constructor(
    type: ConnectionEventType,
    init: {
      error?: Error;
      connections: number;
      resumed?: boolean;
      lostUpdates?: number;
    },
  ) {
    super(type);
    this.error = init.error;
    this.connections = init.connections;
    this.resumed = init.resumed ?? false;
    this.lostUpdates = init.lostUpdates ?? 0;
  }
}

/**
 * Event names of a `Client` and the event each one carries, for typed
 * `addEventListener`.
 */
export interface ClientEventMap {
  /** A connection opened. */
  connect: ConnectionEvent;
  /** An open connection ended. */
  disconnect: ConnectionEvent;
  /** A connection opened after an earlier one was lost. */
  reconnect: ConnectionEvent;
}
