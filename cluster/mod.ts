/**
 * Brokers that let several server processes or workers share topics,
 * groups and uids. Import them from `@nanorpc/nanorpc/cluster`; the main
 * entry point does not load them (nor nats.js).
 *
 * - {@link NatsBroker}: processes on any number of machines, through a NATS
 *   server or cluster.
 * - {@link BroadcastChannelBroker}: the Deno Workers of one process
 *   (`--workers N` without NATS), through `BroadcastChannel`.
 * - {@link NatsForwarder}: a server's REQUESTs and SUBSCRIBEs for paths it
 *   does not serve go to a node that does (nano's remote handlers).
 * - {@link Workers}: N Deno Workers serving the same ports (`reusePort`).
 *
 * Both deliver at most once and best-effort: a publish reaches the local
 * subscribers synchronously and the other nodes' soon after, in order per
 * publisher and channel. Every buffer is bounded; what does not fit, or
 * cannot travel while NATS is down, is dropped and counted by reason in
 * `stats.droppedBy`, never queued without bound.
 *
 * @example Two nodes sharing a topic through NATS
 * ```ts ignore
 * import { Server } from "@nanorpc/nanorpc";
 * import { NatsBroker } from "@nanorpc/nanorpc/cluster";
 *
 * // Run this on each node, with nats-server reachable at the URL.
 * const broker = await NatsBroker.connect({
 *   servers: "nats://127.0.0.1:4222",
 *   name: Deno.hostname(),
 * });
 * const server = new Server({ broker });
 * server.topic("/news");
 * // A publish on any node reaches the subscribers of every node.
 * server.publish("/news", new TextEncoder().encode("hello"));
 * ```
 *
 * @module
 */

export {
  BroadcastChannelBroker,
  type BroadcastChannelBrokerOptions,
  type BroadcastChannelBrokerStats,
  type BroadcastDropReason,
} from "./broadcast_channel_broker.ts";
export { NatsBroker } from "./nats_broker.ts";
export type {
  NatsBrokerEvent,
  NatsBrokerOptions,
  NatsBrokerState,
  NatsBrokerStats,
  NatsConnectionExtras,
  NatsDropReason,
  NatsTlsOptions,
} from "./nats_broker_options.ts";
export { NatsForwarder } from "./nats_forwarder.ts";
export type {
  ForwardDropReason,
  NatsForwarderOptions,
  NatsForwarderStats,
} from "./nats_forwarder_options.ts";
export { Workers } from "./workers.ts";
export type {
  WorkerContext,
  WorkerMain,
  WorkersDrainOptions,
  WorkersOptions,
  WorkersQueryOptions,
  WorkersStats,
} from "./workers_options.ts";
export type { Broker, BrokerMessage } from "../server/broker.ts";
export type {
  ForwardCallOptions,
  ForwardedAnswer,
  ForwardedCall,
  Forwarder,
  ForwardHost,
  ServedRoutes,
  SessionOp,
  SessionSnapshot,
} from "../server/forward.ts";
export type { PeerAddress } from "../transport/byte_stream.ts";
export type { Logger } from "../server/logger.ts";
