/**
 * The subscribers of one process (or worker), by channel: what every
 * distributed broker keeps locally, and where it tells its link when a
 * channel gains its first subscriber or loses its last one.
 *
 * @module
 */

import type { BrokerMessage } from "../server/broker.ts";

/** A channel with at least one local subscriber. */
export interface LocalChannel {
  /** The channel's name. */
  readonly name: string;
  /** Whether a subscriber is still registered; false once the last leaves. */
  readonly live: boolean;
}

/** Hooks a broker passes to {@link LocalChannels}. */
export interface LocalChannelsHooks {
  /** The first subscriber of `channel` arrived. */
  opened?(channel: LocalChannel): void;
  /** The last subscriber of `channel` left. */
  closed?(channel: LocalChannel): void;
  /** A subscriber threw; the others still got the message. */
  failed(channel: string, error: unknown): void;
}

class Entry implements LocalChannel {
  readonly receivers = new Set<(message: BrokerMessage) => void>();
  live = true;
  constructor(readonly name: string) {}
}

/** Local subscribers by channel. */
export class LocalChannels {
  #entries = new Map<string, Entry>();
  #hooks: LocalChannelsHooks;

  /** @param hooks Where channel openings, closings and failures go. */
  constructor(hooks: LocalChannelsHooks) {
    this.#hooks = hooks;
  }

  /** How many channels have subscribers. */
  get size(): number {
    return this.#entries.size;
  }

  /** The channel's entry, if it has subscribers. */
  get(channel: string): LocalChannel | undefined {
    return this.#entries.get(channel);
  }

  /**
   * Registers `deliver` on `channel` until the handle is disposed.
   *
   * @returns The handle; disposing it twice does nothing.
   */
  subscribe(
    channel: string,
    deliver: (message: BrokerMessage) => void,
  ): Disposable {
    let entry = this.#entries.get(channel);
    const first = !entry;
    if (!entry) this.#entries.set(channel, entry = new Entry(channel));
    const fn = (message: BrokerMessage) => deliver(message);
    entry.receivers.add(fn);
    if (first) this.#hooks.opened?.(entry);
    const owner = entry;
    return {
      [Symbol.dispose]: () => {
        if (!owner.receivers.delete(fn) || owner.receivers.size > 0) return;
        owner.live = false;
        if (this.#entries.get(channel) === owner) this.#entries.delete(channel);
        this.#hooks.closed?.(owner);
      },
    };
  }

  /**
   * Delivers `message` to the subscribers of `channel` (or of the given
   * entry, which may have closed meanwhile).
   *
   * @returns Whether anyone was subscribed.
   */
  deliver(channel: string | LocalChannel, message: BrokerMessage): boolean {
    const entry = typeof channel === "string"
      ? this.#entries.get(channel)
      : channel as Entry;
    if (!entry?.live) return false;
    for (const fn of entry.receivers) {
      try {
        fn(message);
      } catch (err) {
        this.#hooks.failed(entry.name, err);
      }
    }
    return true;
  }

  /** Forgets every subscriber, without calling the hooks. */
  clear(): void {
    for (const entry of this.#entries.values()) entry.live = false;
    this.#entries.clear();
  }
}
