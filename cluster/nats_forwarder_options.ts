/**
 * Options and counters of {@link NatsForwarder}.
 *
 * @module
 */

import type { ForwardedCall } from "../server/forward.ts";
import type {
  NatsBrokerOptions,
  NatsBrokerState,
} from "./nats_broker_options.ts";
// deno-lint-ignore no-unused-vars
import type { NatsForwarder } from "./nats_forwarder.ts";

/**
 * Options of {@link NatsForwarder.connect}: the link options of a
 * `NatsBroker` (servers, prefix, credentials, reconnect delays, bounds),
 * plus routing and liveness.
 */
export interface NatsForwarderOptions
  extends Omit<NatsBrokerOptions, "maxPending" | "maxPendingBytes"> {
  /**
   * Routes a call by key instead of load-balancing it (nano's
   * `Router().Bind`, Pitaya's `RPCTo`): calls with the same key go to the
   * same node among those serving the path, while the nodes stay the same
   * (rendezvous hashing over the nodes heard from). Return `undefined` to
   * load-balance that call. Until a serving node has been heard from, keyed
   * calls are load-balanced too. When it throws, the call fails with
   * INTERNAL_ERROR and a reference to the error in the log, as a throwing
   * handler's does.
   *
   * @example Every call of one room on one node
   * ```ts ignore
   * routeKey: (call) => call.session.attributes.get("room") as string | undefined
   * ```
   */
  routeKey?: (call: ForwardedCall) => string | undefined;
  /** Milliseconds between two heartbeats of this node; 1000 by default. */
  heartbeatInterval?: number;
  /**
   * Milliseconds between two lists of the subscriptions this node holds
   * for other nodes' sessions, sent to each of those nodes (also sent when
   * the link comes back), which release the ones they no longer have: an
   * unsubscribe whose release was lost while a link was down. 10000 by
   * default; 0: never.
   */
  auditInterval?: number;
  /**
   * Milliseconds without a heartbeat after which a node is presumed gone
   * (while this node's link was up): the subscriptions it held for this
   * node's sessions are made again elsewhere, and those this node held for
   * its sessions are dropped. 10000 by default.
   */
  nodeTimeout?: number;
  /**
   * Forwarded calls waiting for their answers at once; more are answered
   * INTERNAL_ERROR at once. 10,000 by default.
   */
  maxInflight?: number;
  /**
   * Calls from other nodes served at once; more are answered
   * INTERNAL_ERROR at once, so that one node cannot flood another.
   * 10,000 by default.
   */
  maxServing?: number;
}

/**
 * Why a message between nodes was dropped:
 * - `disconnected`: sent while the NATS link was down;
 * - `backpressure`: over `maxUnflushedBytes` not yet confirmed by NATS;
 * - `tooLarge`: over the NATS server's `max_payload`;
 * - `malformed`: from another node, in a format this node cannot read;
 * - `busy`: a call over `maxInflight` or `maxServing`;
 * - `closed`: sent after the forwarder closed.
 */
export type ForwardDropReason =
  | "disconnected"
  | "backpressure"
  | "tooLarge"
  | "malformed"
  | "busy"
  | "closed";

/** Counters of a {@link NatsForwarder}, as of the moment they were read. */
export interface NatsForwarderStats {
  /** The link's state. */
  state: NatsBrokerState;
  /** Other nodes heard from and not presumed gone. */
  nodes: number;
  /** Calls this node forwarded. */
  forwarded: number;
  /** Of those, answered NOT_FOUND because no node serves the path. */
  notFound: number;
  /** Of those, not answered within their time limit. */
  timedOut: number;
  /** Forwarded calls waiting for their answers now. */
  inflight: number;
  /** Calls from other nodes this node served. */
  served: number;
  /** Calls from other nodes being served now. */
  serving: number;
  /** Updates sent to other nodes' sessions. */
  updatesSent: number;
  /** Updates received for this node's sessions. */
  updatesReceived: number;
  /**
   * Lists of the subscriptions other nodes hold for this node's sessions,
   * received (each node sends one every ten heartbeats).
   */
  heldLists: number;
  /**
   * Subscriptions other nodes held for this node's sessions that this node
   * no longer had, and that it told them to let go of: found by an update
   * that crossed its unsubscribe (usual) or by a list of held subscriptions
   * (an unsubscribe whose release was lost while a link was down).
   */
  staleReleased: number;
  /** Messages dropped, all reasons together. */
  dropped: number;
  /** Messages dropped, by reason. */
  droppedBy: Record<ForwardDropReason, number>;
  /** Times the link came back after being lost. */
  reconnects: number;
}
