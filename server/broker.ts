/**
 * The seam between a server and the processes it shares topics, groups and
 * pushes with. Every publish goes through a broker; the default one
 * delivers in-process. A broker backed by a distributed engine (NATS, say)
 * lets several server processes share channels without touching the rest
 * of the server.
 *
 * @module
 */

/** One message on a broker channel: the path it targets and its data. */
export interface BrokerMessage {
  /** Topic path the update is for, e.g. `"/room/messages"`. */
  readonly path: string;
  /** The update's data. Receivers must not modify it. */
  readonly data: Uint8Array;
}

/**
 * Carries messages between the servers that share channels. Channels are
 * named by the server: `topic:<path>`, `group:<name>` and `uid:<uid>`.
 */
export interface Broker {
  /** Sends `message` to every subscriber of `channel`, in every process. */
  publish(channel: string, message: BrokerMessage): void;
  /**
   * Delivers the messages published on `channel` to `deliver`, in publish
   * order, until the returned handle is disposed.
   */
  subscribe(
    channel: string,
    deliver: (message: BrokerMessage) => void,
  ): Disposable;
}

/**
 * The default broker: channels live in this process and delivery is
 * synchronous, so a publish has reached every local subscriber when it
 * returns.
 *
 * @example
 * ```ts
 * import { InProcessBroker } from "@nanorpc/nanorpc";
 *
 * const broker = new InProcessBroker();
 * using _sub = broker.subscribe("topic:/t", (m) => console.log(m.path));
 * broker.publish("topic:/t", { path: "/t", data: new Uint8Array() });
 * ```
 */
export class InProcessBroker implements Broker {
  #channels = new Map<string, Set<(message: BrokerMessage) => void>>();

  /** Delivers `message` to this process's subscribers of `channel`. */
  publish(channel: string, message: BrokerMessage): void {
    const receivers = this.#channels.get(channel);
    if (receivers) { for (const deliver of receivers) deliver(message); }
  }

  /** Registers `deliver` for `channel` until the handle is disposed. */
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
        if (receivers.size === 0) this.#channels.delete(channel);
      },
    };
  }
}
