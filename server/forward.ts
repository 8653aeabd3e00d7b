/**
 * The seam between a server and the cluster that forwards what it does not
 * serve itself (nano's remote handlers, Pitaya's frontend/backend). The
 * server implements {@link ForwardHost}; a {@link Forwarder} (e.g.
 * `NatsForwarder` of `@nanorpc/nanorpc/cluster`) carries calls, answers and
 * session changes between nodes. Nothing here knows NATS.
 *
 * How a forwarded call runs:
 *
 * 1. A REQUEST or SUBSCRIBE reaches a node (the session's *home*) that has
 *    no handler or topic at its path. The home node sends a
 *    {@link ForwardedCall}: the path (hash, and the string when the peer
 *    sent one), the data, and a {@link SessionSnapshot} (home node, session
 *    id, uid, attributes).
 * 2. A node that serves the path runs its middleware and handler with a
 *    proxy `ctx.session` built from the snapshot. What the handler does to
 *    the session -- `set`, `delete`, `bind`, `unbind`, `push`, adding it to
 *    or removing it from a group, `close` -- is recorded as
 *    {@link SessionOp}s and travels back with the {@link ForwardedAnswer};
 *    the home node applies them, in order, just before it writes the
 *    answer. A proxy kept after the answer sends its ops on its own. A
 *    broadcast or multicast the call makes to a group it added the session
 *    to (or removed it from) travels in the answer too, after that change,
 *    for this session; the other members get it through the broker, which
 *    skips this one ({@link Forwarder.carriesBroadcasts}).
 * 3. A SUBSCRIBE is held by the node that acknowledged it: its topic
 *    applies the filter to every publish it sees (they travel between nodes
 *    through the broker) and sends the accepted updates to the home node,
 *    batched per node and turn, keyed by a number the home node chose. The
 *    home node keeps the subscription's record, acknowledges unsubscribes
 *    itself (and drops any update that arrives later), and tells the holder
 *    to let go.
 *
 * @module
 */

import type { PeerAddress } from "../transport/byte_stream.ts";
import type { Logger } from "./logger.ts";

/** The session a forwarded call comes from, as of the moment it was sent. */
export interface SessionSnapshot {
  /** Id of the session's home node (the server it is connected to). */
  readonly node: string;
  /** The session's id on its home node. */
  readonly id: number;
  /** The uid bound with `session.bind`, if any. */
  readonly uid?: string;
  /** The transport the peer came in on. */
  readonly transport: string;
  /** The peer's address. */
  readonly remoteAddr: PeerAddress;
  /**
   * The session's attributes. A forwarder carries those it can encode
   * (plain data: strings, numbers, booleans, bytes, arrays, plain objects,
   * maps, dates) and leaves out the rest, with a warning.
   */
  readonly attributes: ReadonlyMap<string, unknown>;
}

/** A change a remote handler made to a session, applied on its home node. */
export type SessionOp =
  | { readonly op: "set"; readonly key: string; readonly value: unknown }
  | { readonly op: "delete"; readonly key: string }
  | { readonly op: "bind"; readonly uid: string }
  | { readonly op: "unbind" }
  | { readonly op: "push"; readonly path: string; readonly data: Uint8Array }
  | { readonly op: "update"; readonly id: number; readonly data: Uint8Array }
  | { readonly op: "join"; readonly group: string }
  | { readonly op: "leave"; readonly group: string }
  /**
   * A broadcast or multicast of `group` that reached this session on the
   * serving node, after the call changed its membership: pushed when the
   * session is a member as the op is applied.
   */
  | {
    readonly op: "broadcast";
    readonly group: string;
    readonly path: string;
    readonly data: Uint8Array;
  }
  | { readonly op: "close"; readonly reason: string };

/** A REQUEST or SUBSCRIBE sent to a node that serves its path. */
export interface ForwardedCall {
  /** `"request"` for REQUEST, `"subscribe"` for SUBSCRIBE. */
  readonly kind: "request" | "subscribe";
  /** FNV-1a hash of the path. */
  readonly pathHash: number;
  /** The path, when the peer sent it as a string. */
  readonly path?: string;
  /** The peer's request id. */
  readonly requestId: number;
  /** The request's data, or the subscription's filter. */
  readonly data: Uint8Array;
  /** Who sent it. */
  readonly session: SessionSnapshot;
  /** SUBSCRIBE: the home node's key for the subscription's updates. */
  readonly key?: number;
  /**
   * W3C trace context of the call (`currentTraceparent()` on the home
   * node); the serving node runs the call inside `withTraceparent`, so its
   * server span joins the trace, and puts it in `ctx.state` under
   * `"traceparent"`.
   */
  readonly traceparent?: string;
}

/** What a serving node answers a {@link ForwardedCall} with. */
export interface ForwardedAnswer {
  /** Response status (`Status` of the wire protocol). */
  readonly status: number;
  /** Response message, for errors. */
  readonly message?: string;
  /** Response data. */
  readonly data: Uint8Array;
  /** What the handler did to the session, in order. */
  readonly ops: readonly SessionOp[];
  /** Id of the node that answered (for a SUBSCRIBE: the one holding it). */
  readonly node: string;
}

/** The paths a node serves to others, as FNV-1a hashes. */
export interface ServedRoutes {
  /** Paths with a request handler. */
  readonly requests: readonly number[];
  /** Paths with a topic. */
  readonly topics: readonly number[];
  /**
   * Paths whose route sets its own time limit: hash and milliseconds, one
   * after the other, so that a forwarded call waits as long as it may run.
   */
  readonly timeouts?: readonly number[];
}

/**
 * What a server offers its {@link Forwarder}: serving calls from other
 * nodes, and applying what other nodes send to its sessions. The server
 * implements it; a forwarder calls it when messages arrive.
 */
export interface ForwardHost {
  /** This server's node id, unique in the cluster. */
  readonly nodeId: string;
  /** The server's logger. */
  readonly logger: Logger;
  /** The paths this server serves. */
  routes(): ServedRoutes;
  /** Serves a call from another node; never rejects. */
  serve(call: ForwardedCall): Promise<ForwardedAnswer>;
  /** Applies ops a remote handler sent after its answer. */
  apply(sessionId: number, ops: readonly SessionOp[]): void;
  /**
   * An update for the remote subscription `key` of one of this server's
   * sessions, from the node `from` holding it.
   *
   * @returns `false` when no such subscription is held by `from` (the
   * forwarder then tells `from` to let go of it).
   */
  update(from: string, key: number, data: Uint8Array): boolean;
  /**
   * Node `node` let go of subscriptions this server holds for it: the
   * listed keys, or all of them (the node left or stopped answering).
   */
  release(node: string, keys?: readonly number[]): void;
  /**
   * A push from a session's home node to the subscriptions this server
   * holds for that session, to be filtered and sent back as updates.
   */
  push(from: string, sessionId: number, path: string, data: Uint8Array): void;
  /**
   * The link came back after an outage, or `node` (holding some of this
   * server's remote subscriptions) went away: subscribe those again.
   */
  resubscribe(node?: string): void;
  /**
   * The keys of the subscriptions this server holds for other nodes'
   * sessions, by home node. A forwarder sends each home node its list now
   * and then, so that a release lost on the way (sent while either link
   * was down) is noticed: see {@link ForwardHost.unheld}.
   */
  held(): Map<string, number[]>;
  /**
   * Node `from` says it holds the subscriptions `keys` for this server's
   * sessions.
   *
   * @returns The keys this server no longer has a subscription held by
   * `from` for (unsubscribed while a release could not reach `from`); the
   * forwarder tells `from` to let go of them. A subscription still waiting
   * for its answer counts as held.
   */
  unheld(from: string, keys: readonly number[]): number[];
}

/** How the server wants a call carried. */
export interface ForwardCallOptions {
  /** Milliseconds to wait for the answer; then INTERNAL_ERROR. */
  readonly timeout: number;
}

/**
 * Carries calls between the nodes of a cluster. `call` never rejects: a
 * path no node serves is answered NOT_FOUND, a lost node or link
 * INTERNAL_ERROR within the time limit. Everything else is fire and
 * forget, dropped and counted while the link is down.
 *
 * @example A forwarder that knows no other node
 * ```ts
 * import { Server, type Forwarder } from "@nanorpc/nanorpc/server";
 *
 * const alone: Forwarder = {
 *   attach: () => Promise.resolve(),
 *   routesChanged: () => {},
 *   call: (call) =>
 *     Promise.resolve({
 *       status: 2, // NOT_FOUND
 *       message: `No node serves path hash ${call.pathHash}`,
 *       data: new Uint8Array(),
 *       ops: [],
 *       node: "",
 *     }),
 *   ops: () => {},
 *   update: () => {},
 *   release: () => {},
 *   push: () => {},
 *   detach: () => Promise.resolve(),
 * };
 * const server = new Server({ forward: alone });
 * ```
 */
export interface Forwarder {
  /**
   * Starts serving `host`'s routes to other nodes; awaited before the
   * server's first listener accepts.
   */
  attach(host: ForwardHost): Promise<void>;
  /** The host registered a handler or topic after {@link attach}. */
  routesChanged(): void;
  /** Sends `call` to a node that serves its path and awaits the answer. */
  call(
    call: ForwardedCall,
    options: ForwardCallOptions,
  ): Promise<ForwardedAnswer>;
  /** Sends session ops to the session's home node. */
  ops(node: string, sessionId: number, ops: readonly SessionOp[]): void;
  /**
   * Whether the answer to a call from `node` may carry `broadcast` ops,
   * and broker messages may list members to skip (`except`): `node` and
   * every other node read them (older versions do not). When it answers
   * `false`, or is missing, a remote handler's broadcasts travel through
   * the broker only, and may reach the home node before the change of
   * membership made just before them.
   */
  carriesBroadcasts?(node: string): boolean;
  /** Sends an update for subscription `key` to its home node. */
  update(node: string, key: number, data: Uint8Array): void;
  /** Tells `node` that the subscriptions `keys` it holds are gone. */
  release(node: string, keys: readonly number[]): void;
  /** Sends a push to the node holding subscriptions of session `sessionId`. */
  push(node: string, sessionId: number, path: string, data: Uint8Array): void;
  /**
   * Stops serving the host (no new calls; in-flight ones are answered
   * first) and tells the other nodes this one is leaving. The server calls
   * it at shutdown; closing the link is the owner's job.
   */
  detach(): Promise<void>;
}
