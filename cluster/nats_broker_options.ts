/**
 * Options, counters and events of {@link NatsBroker}.
 *
 * @module
 */

import type { Logger } from "../server/logger.ts";
// deno-lint-ignore no-unused-vars
import type { NatsBroker } from "./nats_broker.ts";

/** Options of {@link NatsBroker.connect}. */
export interface NatsBrokerOptions {
  /** NATS server URL(s), e.g. `"nats://127.0.0.1:4222"`. */
  servers: string | string[];
  /** Client name shown by the NATS server's monitoring; e.g. the node. */
  name?: string;
  /**
   * First token(s) of every subject this broker uses; `"nanorpc"` by
   * default. Clusters that share a NATS server use different prefixes.
   */
  prefix?: string;
  /**
   * Most messages from other nodes waiting for local subscribers; beyond
   * it they are dropped (`slowConsumer`). 10,000 by default.
   */
  maxPending?: number;
  /** Most bytes of such messages; 64 MiB by default. */
  maxPendingBytes?: number;
  /**
   * Most bytes published and not yet confirmed by the NATS server (a
   * flush round trip); beyond it publishes are dropped (`backpressure`).
   * This bounds what nats.js buffers when the server is slow or the link
   * is dying. 8 MiB by default.
   */
  maxUnflushedBytes?: number;
  /** First delay between reconnect attempts in ms; 250 by default. */
  reconnectDelay?: number;
  /**
   * Longest delay between reconnect attempts in ms; 5000 by default.
   * Delays grow with the time NATS has been down, up to this; the broker
   * tries forever.
   */
  maxReconnectDelay?: number;
  /**
   * Milliseconds between pings to the NATS server; a link missing three
   * answers is dropped and reconnected. 5000 by default.
   */
  pingInterval?: number;
  /** Milliseconds {@link NatsBroker.close} waits to drain; 2000 by default. */
  closeTimeout?: number;
  /**
   * Where connection changes and drops are logged; the console by default
   * (objects as text, so nothing they reach is kept alive).
   */
  logger?: Logger;
  /** Credentials, TLS and the connect timeout. */
  nats?: NatsConnectionExtras;
}

/** How to reach a NATS server that needs credentials or TLS. */
export interface NatsConnectionExtras {
  /** User name, with {@link NatsConnectionExtras.pass}. */
  user?: string;
  /** Password for {@link NatsConnectionExtras.user}. */
  pass?: string;
  /** Authentication token. */
  token?: string;
  /** TLS: an empty object requires it; file paths or PEM strings. */
  tls?: NatsTlsOptions;
  /** Milliseconds to wait for the handshake with a server; 20000. */
  timeout?: number;
}

/** TLS options of a NATS connection (nats.js on Deno's `node:tls`). */
export interface NatsTlsOptions {
  /** CA certificates to trust, as a file path. */
  caFile?: string;
  /** CA certificates to trust, as PEM. */
  ca?: string;
  /** Client certificate, as a file path. */
  certFile?: string;
  /** Client certificate, as PEM. */
  cert?: string;
  /** Client key, as a file path. */
  keyFile?: string;
  /** Client key, as PEM. */
  key?: string;
  /** Start TLS before the server's INFO (the server must be set up so). */
  handshakeFirst?: boolean;
  /** `false` accepts any server certificate: for tests only. */
  rejectUnauthorized?: boolean;
}

/**
 * Why a message was dropped:
 * - `disconnected`: published while the NATS link was down;
 * - `backpressure`: over `maxUnflushedBytes` not yet confirmed by NATS;
 * - `tooLarge`: over the NATS server's `max_payload`;
 * - `slowConsumer`: from another node, with the local buffer full;
 * - `malformed`: from another node, in an envelope this node cannot read;
 * - `closed`: published after close, or waiting for delivery at close.
 */
export type NatsDropReason =
  | "disconnected"
  | "backpressure"
  | "tooLarge"
  | "slowConsumer"
  | "malformed"
  | "closed";

/** The NATS link: up, down and retrying, or closed for good. */
export type NatsBrokerState = "connected" | "reconnecting" | "closed";

/** Counters of a {@link NatsBroker}, as of the moment they were read. */
export interface NatsBrokerStats {
  /** The link's state. */
  state: NatsBrokerState;
  /** Messages handed to NATS. */
  published: number;
  /** Valid messages that arrived from other nodes. */
  received: number;
  /** Arrived messages handed to this node's subscribers. */
  delivered: number;
  /** Messages dropped, all reasons together. */
  dropped: number;
  /** Messages dropped, by reason. */
  droppedBy: Record<NatsDropReason, number>;
  /** Arrived messages waiting for local subscribers. */
  pending: number;
  /** Their bytes. */
  pendingBytes: number;
  /** Bytes published and not yet confirmed by the NATS server. */
  unflushedBytes: number;
  /** Times the link came back after being lost. */
  reconnects: number;
  /** Channels this node subscribes to. */
  channels: number;
}

/** What {@link NatsBroker.events} reports, for logs and health checks. */
export type NatsBrokerEvent =
  | { type: "disconnected"; server: string }
  | { type: "reconnecting" }
  | { type: "reconnected"; server: string }
  | { type: "dropping"; reason: NatsDropReason; dropped: number }
  | { type: "error"; error: Error }
  | { type: "closed" };
