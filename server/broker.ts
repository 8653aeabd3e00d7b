/**
 * The seam every delivery that crosses sessions goes through: topic
 * publishes, group broadcasts and multicasts, pushes and kicks by uid. The
 * default broker delivers in-process; a distributed one (NATS, or
 * `BroadcastChannel` between workers) lets several server processes share
 * channels without touching the rest of the server.
 *
 * @module
 */

import { textConsole } from "./logger.ts";

/**
 * One message on a broker channel. Channels are named by the server:
 * `topic:<path>` (a publish), `group:<name>` (a broadcast, or a multicast
 * when `uids` or `sessions` is set) and `uid:<uid>` (a push, or a kick when
 * `kick` is set).
 */
export interface BrokerMessage {
  /** Topic path the update is for, e.g. `"/room/messages"`. */
  readonly path: string;
  /** The update's data. Receivers must not modify it. */
  readonly data: Uint8Array;
  /** Multicast: only the group members bound to these uids. */
  readonly uids?: readonly string[];
  /**
   * Multicast: also these members by session id; only the node named by
   * `origin` applies them (session ids are unique per process).
   */
  readonly sessions?: readonly number[];
  /** The id of the node that published, for `sessions`. */
  readonly origin?: string;
  /** Kick: close the session bound to the channel's uid with this reason. */
  readonly kick?: string;
  /**
   * Broadcast or multicast: members to skip, as session ids by node id.
   * A forwarded call that changed their membership carries the message to
   * them in its answer instead, in order with that change.
   */
  readonly except?: ReadonlyMap<string, readonly number[]>;
}

/**
 * Carries messages between the servers that share channels.
 *
 * Delivery is at most once and best-effort: a broker that cannot deliver
 * (its buffer is full, or its link is down) drops the message and counts it
 * in {@link Broker.dropped}; it never queues without bound.
 */
export interface Broker extends AsyncDisposable {
  /**
   * Sends `message` to every subscriber of `channel`, in every process. The
   * broker may deliver before it returns (in-process) or later.
   */
  publish(channel: string, message: BrokerMessage): void | Promise<void>;
  /**
   * Delivers the messages published on `channel` to `deliver`, in publish
   * order, until the returned handle is disposed.
   */
  subscribe(
    channel: string,
    deliver: (message: BrokerMessage) => void,
  ): Disposable;
  /** Messages the broker had to drop since it was created. */
  readonly dropped: number;
  /** Releases the broker's resources; later publishes are dropped. */
  close(): Promise<void>;
  /**
   * Resolves when the broker can carry messages (its subscriptions are
   * set up); the server awaits it before its first listener accepts.
   */
  ready?(): Promise<void>;
}

/**
 * The default broker: channels live in this process and delivery is
 * synchronous, so a publish has reached every local subscriber when it
 * returns. It never drops.
 *
 * @example
 * ```ts
 * import { InProcessBroker } from "@nanorpc/nanorpc/server";
 *
 * await using broker = new InProcessBroker();
 * using _sub = broker.subscribe("topic:/t", (m) => console.log(m.path));
 * broker.publish("topic:/t", { path: "/t", data: new Uint8Array() });
 * ```
 */
export class InProcessBroker implements Broker {
  #channels = new Map<string, Set<(message: BrokerMessage) => void>>();
  #closed = false;
  #dropped = 0;

  /** Messages published after {@link close}. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Delivers `message` to this process's subscribers of `channel`.
   *
   * @param channel The channel, e.g. `topic:/room/messages`.
   * @param message The message.
   */
  publish(channel: string, message: BrokerMessage): void {
    if (this.#closed) {
      this.#dropped++;
      return;
    }
    const receivers = this.#channels.get(channel);
    if (!receivers) return;
    for (const deliver of receivers) {
      try {
        deliver(message);
      } catch (err) {
        // The other subscribers still get the message.
        textConsole.error(
          `InProcessBroker: a subscriber of ${channel} threw:`,
          err,
        );
      }
    }
  }

  /**
   * Registers `deliver` for `channel` until the handle is disposed.
   *
   * @param channel The channel.
   * @param deliver Called with each message, in publish order.
   * @returns The handle; dispose it to stop delivery.
   */
  subscribe(
    channel: string,
    deliver: (message: BrokerMessage) => void,
  ): Disposable {
    let receivers = this.#channels.get(channel);
    if (!receivers) this.#channels.set(channel, receivers = new Set());
    const fn = (message: BrokerMessage) => deliver(message);
    receivers.add(fn);
    return {
      [Symbol.dispose]: () => {
        receivers.delete(fn);
        if (receivers.size === 0 && this.#channels.get(channel) === receivers) {
          this.#channels.delete(channel);
        }
      },
    };
  }

  /** Forgets every channel; later publishes are dropped and counted. */
  close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    return Promise.resolve();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
