/**
 * The NATS link's plumbing for {@link NatsBroker}: reconnect delays, and
 * nats.js status notifications turned into a few callbacks.
 *
 * @module
 */

import {
  connect,
  type ConnectionOptions,
  type NatsConnection,
} from "@nats-io/transport-node";
import { type Logger, textConsole } from "../server/logger.ts";
import { checkPrefix } from "./_subject.ts";
// deno-lint-ignore no-unused-vars
import type { NatsBroker } from "./nats_broker.ts";
import type {
  NatsBrokerOptions,
  NatsDropReason,
} from "./nats_broker_options.ts";

/** What to do about each kind of drop, for the log; closed ones are quiet. */
export const DROP_ADVICE: Record<NatsDropReason, string | undefined> = {
  disconnected:
    "NATS is unreachable; cross-node deliveries resume when it is back",
  backpressure:
    "NATS does not confirm publishes as fast as this node makes them; publish less or raise maxUnflushedBytes",
  tooLarge:
    "the message is over the NATS server's max_payload; raise max_payload in nats-server's configuration",
  slowConsumer:
    "local subscribers cannot keep up with other nodes; raise maxPending / maxPendingBytes or publish less",
  malformed:
    "a peer sent an envelope this node cannot read; run one nanorpc version across the cluster",
  closed: undefined,
};

/** {@link NatsBrokerOptions} with defaults applied and checked. */
export interface LinkSettings {
  prefix: string;
  label: string;
  logger: Logger;
  reconnectDelay: number;
  maxReconnectDelay: number;
  pingInterval: number;
  closeTimeout: number;
  maxUnflushedBytes: number;
  maxPending: number;
  maxPendingBytes: number;
}

/**
 * Applies defaults to `options` and checks them, before anything connects.
 *
 * @throws {TypeError} When the prefix is not a literal subject.
 * @throws {RangeError} When a bound or delay is not positive.
 */
export function linkSettings(options: NatsBrokerOptions): LinkSettings {
  const prefix = options.prefix ?? "nanorpc";
  checkPrefix(prefix);
  return {
    prefix,
    label: `NatsBroker ${options.name ?? prefix}`,
    logger: options.logger ?? textConsole,
    reconnectDelay: positive("reconnectDelay", options.reconnectDelay, 250),
    maxReconnectDelay: positive(
      "maxReconnectDelay",
      options.maxReconnectDelay,
      5000,
    ),
    pingInterval: positive("pingInterval", options.pingInterval, 5000),
    closeTimeout: positive("closeTimeout", options.closeTimeout, 2000),
    maxUnflushedBytes: positive(
      "maxUnflushedBytes",
      options.maxUnflushedBytes,
      8 << 20,
    ),
    maxPending: positive("maxPending", options.maxPending, 10_000),
    maxPendingBytes: positive(
      "maxPendingBytes",
      options.maxPendingBytes,
      64 << 20,
    ),
  };
}

/**
 * Reconnect delays that grow with the time the link has been down: half
 * the outage so far, between `initial` and `max`, ±10 % jitter. nats.js
 * asks before each attempt and again while it waits for one, so the delay
 * depends on the clock, not on how often it is asked.
 */
export class Backoff {
  #since = 0;

  /**
   * @param initial Shortest delay in ms.
   * @param max Longest delay in ms.
   */
  constructor(readonly initial: number, readonly max: number) {}

  /** The link is back: the next outage starts from `initial`. */
  reset(): void {
    this.#since = 0;
  }

  /** The delay before the next attempt, in ms. */
  next(): number {
    const now = Date.now();
    if (this.#since === 0) this.#since = now;
    const grown = Math.max(this.initial, (now - this.#since) / 2);
    return Math.min(this.max, grown) * (0.9 + Math.random() * 0.2);
  }
}

/** What {@link watchStatus} reports. */
export interface LinkHandlers {
  /** The link to `server` dropped; nats.js is reconnecting. */
  down(server: string): void;
  /** nats.js starts an attempt. */
  attempt(): void;
  /** The link is back, at `server`. */
  up(server: string): void;
  /** The server sent an error, or something worth a log line happened. */
  error(error: Error): void;
  /** A line for the log. */
  note(line: string): void;
}

/**
 * Calls `handlers` for the connection's status changes until it closes.
 *
 * @returns Resolves when the connection has closed.
 */
export async function watchStatus(
  nc: NatsConnection,
  handlers: LinkHandlers,
): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case "disconnect":
        handlers.down(s.server);
        break;
      case "reconnecting":
        handlers.attempt();
        break;
      case "reconnect":
        handlers.up(s.server);
        break;
      case "error":
        handlers.error(s.error);
        break;
      case "staleConnection":
        handlers.note("NATS stopped answering pings; reconnecting");
        break;
      case "ldm":
        handlers.note(`NATS at ${s.server} is shutting down (lame duck mode)`);
        break;
    }
  }
}

/**
 * Bounds the bytes handed to nats.js and not yet confirmed by the server:
 * one flush round trip stays in flight while any are unconfirmed, and its
 * answer confirms what was sent before it. When the link drops, nats.js
 * discards its buffer and fails the flush, which frees the window too.
 */
export class PublishWindow {
  #nc: NatsConnection;
  #max: number;
  #bytes = 0;
  #flushing = false;
  #closed = false;

  /**
   * @param nc The connection.
   * @param max Most unconfirmed bytes.
   */
  constructor(nc: NatsConnection, max: number) {
    this.#nc = nc;
    this.#max = max;
  }

  /** Unconfirmed bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether `bytes` more fit. */
  fits(bytes: number): boolean {
    return this.#bytes + bytes <= this.#max;
  }

  /** Counts `bytes` just handed to nats.js. */
  sent(bytes: number): void {
    this.#bytes += bytes;
    this.#confirm();
  }

  /** Starts no more round trips. */
  close(): void {
    this.#closed = true;
  }

  #confirm(): void {
    if (this.#flushing || this.#closed) return;
    this.#flushing = true;
    const covered = this.#bytes;
    this.#nc.flush().catch(() => {
      // The link dropped: nats.js discarded what it buffered.
    }).finally(() => {
      this.#bytes -= covered;
      this.#flushing = false;
      if (this.#bytes > 0) this.#confirm();
    });
  }
}

/** `err` as an `Error`. */
export function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * `value` (or `fallback` when undefined), checked to be positive.
 *
 * @throws {RangeError} naming the option otherwise.
 */
export function positive(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(
      `NatsBroker: ${name} must be a positive number of ${
        /Bytes$/.test(name)
          ? "bytes"
          : /Pending$/.test(name)
          ? "messages"
          : "ms"
      }, not ${v}`,
    );
  }
  return v;
}

/** Whether a NATS request failed because nobody listens on its subject. */
export function isNoResponders(err: unknown): boolean {
  const e = err as { isNoResponders?: () => boolean; name?: string };
  return e?.name === "NoRespondersError" ||
    (typeof e?.isNoResponders === "function" && e.isNoResponders());
}

/** A NATS connection with the settings both the broker and the forwarder use. */
export interface Dialled {
  nc: NatsConnection;
  settings: LinkSettings;
  backoff: Backoff;
}

/**
 * Connects to NATS with reconnection forever (delays from `backoff`) and
 * liveness pings from `options`; `extra` adds nats.js options of the caller.
 *
 * @throws {Error} When no NATS server answers, saying what to check.
 */
export async function dialNats(
  options: NatsBrokerOptions,
  extra: Partial<ConnectionOptions> = {},
): Promise<Dialled> {
  const settings = linkSettings(options);
  const backoff = new Backoff(
    settings.reconnectDelay,
    settings.maxReconnectDelay,
  );
  try {
    const nc = await connect({
      ...options.nats,
      servers: options.servers,
      name: options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () => backoff.next(),
      pingInterval: settings.pingInterval,
      maxPingOut: 3,
      ...extra,
    });
    return { nc, settings, backoff };
  } catch (err) {
    throw new Error(
      `Cannot connect to NATS at ${options.servers}: ${
        errorOf(err).message
      }. Start nats-server there or pass the right URL`,
      { cause: err },
    );
  }
}
