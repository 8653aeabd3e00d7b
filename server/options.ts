/**
 * The options a server is created with, and the event it fires for
 * sessions.
 *
 * @module
 */

import type { PeerAddress } from "../transport/byte_stream.ts";
import type { Broker } from "./broker.ts";
import type { Forwarder } from "./forward.ts";
import type { Logger, LogLevel } from "./logger.ts";
import type { OperationsOptions } from "./ops_options.ts";
import type { Session, Transport } from "./session.ts";

/** What the handshake hook learns about a connection before any frame. */
export interface HandshakeInfo {
  /** The peer's address. */
  readonly remoteAddr: PeerAddress;
  /** The transport the peer came in on. */
  readonly transport: Transport;
}

/**
 * How `server.serve(stream)` serves a byte stream that did not come from
 * one of the server's listeners.
 */
export interface ServeOptions {
  /**
   * For links without a connection to close, such as a serial line: on a
   * malformed frame, discard what is buffered, then discard whatever
   * arrives until the line has been quiet this many milliseconds, and
   * start again. Unset (the default): a malformed frame closes the session.
   */
  resyncQuietMs?: number;
}

/** Options of a {@link Server}; every one has a default. */
export interface ServerOptions extends OperationsOptions {
  /** Largest frame accepted, in bytes; bigger closes the session. 1 MiB. */
  maxMessageSize?: number;
  /**
   * Connections served at once; more are refused at connect. Sessions
   * lingering for a resume have no connection and do not count: at most
   * as many linger, the oldest ending when one more would. Default
   * 100,000.
   */
  maxSessions?: number;
  /**
   * Bytes queued per session. Updates are dropped once they would fill
   * more than half of it; a response that does not fit the whole buffer
   * closes the session. Default 4 MiB.
   */
  outgoingBufferSize?: number;
  /** Subscriptions per session; more are refused. Default 1,024. */
  maxSubscriptionsPerSession?: number;
  /**
   * Largest SUBSCRIBE filter (its data) in bytes. A subscription keeps its
   * filter for as long as it lives, so without this bound one session could
   * pin `maxMessageSize` × `maxSubscriptionsPerSession` bytes. A larger
   * filter is refused with NOT_AUTHORIZED, saying the limit. Default 4,096.
   */
  maxFilterSize?: number;
  /** Time limit of async handlers in ms (0: none). Default 30,000. */
  handlerTimeout?: number;
  /**
   * Close sessions that sent no frame for this many ms (0: never). A
   * session whose handler is still running is not closed.
   */
  idleTimeout?: number;
  /**
   * How long `shutdown()` waits for in-flight handlers, in ms, and for each
   * component's `beforeShutdown` and `shutdown` hook: a hook still running
   * then is logged as an error (its component and this limit) and shutdown
   * goes on without it. 10,000. Infinity (or 2^31 ms and more): as long as
   * they take.
   */
  shutdownTimeout?: number;
  /**
   * Runs for every connection before any frame is read (nano's handshake
   * validator): return `false` or throw to refuse it.
   */
  handshake?: (info: HandshakeInfo) => boolean | void | Promise<boolean | void>;
  /**
   * Carries every delivery that crosses sessions: topic publishes, group
   * broadcasts and multicasts, pushes and kicks by uid. In-process by
   * default. The server does not close a broker it was given.
   */
  broker?: Broker;
  /**
   * Forwards a REQUEST or SUBSCRIBE for a path this server does not serve
   * to a node of its cluster that does, and serves this server's paths to
   * the other nodes (e.g. `NatsForwarder` of `@nanorpc/nanorpc/cluster`).
   * Unset: such a request is answered NOT_FOUND. The server detaches from
   * it at shutdown but does not close it.
   */
  forward?: Forwarder;
  /**
   * Answer REQUESTs to `/_nanorpc/reflection` with the server's path table
   * and the .proto files of its types (see `proto/nanorpc_reflection.proto`);
   * `false` leaves that path unregistered (NOT_FOUND). Default `true`.
   */
  reflection?: boolean;
  /** Where log lines go. Default `console`. */
  logger?: Logger;
  /** Least severe level logged. Default `"warn"`. */
  logLevel?: LogLevel;
}

/**
 * Event fired with a session: `sessionopen` and `sessionclose`. A listener
 * that throws (or whose promise rejects) is logged as an error, and the
 * server and the other listeners go on (see `server.addEventListener`).
 *
 * By `sessionclose` the session has left its groups, its uid is unbound
 * (`session.uid` still reads it; `sessionByUid` and `pushTo` no longer
 * find it) and its subscriptions are gone; its attributes remain.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.addEventListener("sessionclose", ({ session, reason }) => {
 *   console.log(`${session.get("name") ?? "anonymous"} left: ${reason}`);
 * });
 * ```
 */
export class SessionEvent extends Event {
  /** The session that opened or closed. */
  readonly session: Session;
  /** Why it closed (for `sessionclose`). */
  readonly reason: string;

  /**
   * Creates the event; the server dispatches these.
   *
   * @param type `"sessionopen"` or `"sessionclose"`.
   * @param session The session.
   * @param reason Why it closed.
   */
  constructor(type: string, session: Session, reason = "") {
    super(type);
    this.session = session;
    this.reason = reason;
  }
}

/**
 * Event names of a `Server` and the event each one carries, for typed
 * `addEventListener`.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.addEventListener("sessionclose", (event) => {
 *   console.log(`session ${event.session.id} closed: ${event.reason}`);
 * });
 * ```
 */
export interface ServerEventMap {
  /** A session was admitted (after the handshake hook, if any). */
  sessionopen: SessionEvent;
  /** A session ended; `reason` says why. */
  sessionclose: SessionEvent;
}
