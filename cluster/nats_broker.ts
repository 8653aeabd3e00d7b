/**
 * A {@link Broker} over NATS: server processes on any number of machines
 * share topics, groups and uids through one NATS server or cluster.
 *
 * @module
 */

import type {
  Msg,
  NatsConnection,
  Subscription,
} from "@nats-io/transport-node";
import type { Broker, BrokerMessage } from "../server/broker.ts";
import type { Logger } from "../server/logger.ts";
import { decodeEnvelope, encodeEnvelope } from "./_envelope.ts";
import { DeliveryQueue } from "./_delivery_queue.ts";
import { DropCounter } from "./_drops.ts";
import { EventFeed } from "./_event_feed.ts";
import { type LocalChannel, LocalChannels } from "./_local_channels.ts";
import {
  type Backoff,
  dialNats,
  DROP_ADVICE,
  errorOf,
  type LinkSettings,
  PublishWindow,
  watchStatus,
} from "./_nats_link.ts";
import { SubjectCache } from "./_subject.ts";
import type {
  NatsBrokerEvent,
  NatsBrokerOptions,
  NatsBrokerState,
  NatsBrokerStats,
  NatsDropReason,
} from "./nats_broker_options.ts";

/** Bytes counted per queued message on top of its envelope. */
const ITEM_OVERHEAD = 64;
/** The largest update (1 MiB) plus room for an envelope's header. */
const WANTED_PAYLOAD = (1 << 20) + 4096;

interface Pending {
  channel: LocalChannel;
  message: BrokerMessage;
}

/**
 * Carries broker messages between processes through NATS. A publish
 * reaches this process's subscribers synchronously, and the other nodes'
 * through NATS (at most once, in order per publisher and channel).
 *
 * Every buffer is bounded: messages from other nodes wait in a queue of
 * `maxPending` messages / `maxPendingBytes`, publishes not yet confirmed by
 * NATS are capped at `maxUnflushedBytes`, and while the link is down
 * publishes are dropped, never queued. Drops are counted by reason
 * ({@link NatsBroker.stats}) and logged at most every 10 s per reason. The
 * link reconnects forever, with growing delays; subscriptions come back
 * with it.
 *
 * @example
 * ```ts ignore
 * import { NatsBroker } from "@nanorpc/nanorpc/cluster";
 *
 * await using broker = await NatsBroker.connect({
 *   servers: "nats://127.0.0.1:4222",
 *   name: "node-1",
 * });
 * using _sub = broker.subscribe("topic:/news", (m) => console.log(m.data));
 * broker.publish("topic:/news", { path: "/news", data: new Uint8Array([1]) });
 * ```
 */
export class NatsBroker implements Broker {
  /** A random id for this broker, unique across the cluster. */
  readonly id: string = crypto.randomUUID();
  #nc: NatsConnection;
  #logger: Logger;
  #local: LocalChannels;
  #subs = new Map<LocalChannel, Subscription>();
  #subjects: SubjectCache;
  #queue: DeliveryQueue<Pending>;
  #drops: DropCounter<NatsDropReason>;
  #events = new EventFeed<NatsBrokerEvent>();
  #backoff: Backoff;
  #state: NatsBrokerState = "connected";
  #closed = false;
  #closing: Promise<void> | undefined;
  #closeTimeout: number;
  #window: PublishWindow;
  #published = 0;
  #received = 0;
  #delivered = 0;
  #reconnects = 0;
  #statusLoop: Promise<void>;

  /**
   * Connects to NATS and returns the broker.
   *
   * @param options Servers, bounds, reconnection and logging.
   * @returns The connected broker.
   * @throws {Error} When no NATS server answers; start one or fix the URL.
   * @throws {RangeError|TypeError} When an option is invalid.
   */
  static async connect(options: NatsBrokerOptions): Promise<NatsBroker> {
    const { nc, settings, backoff } = await dialNats(options, { noEcho: true });
    return new NatsBroker(nc, settings, backoff);
  }

  private constructor(
    nc: NatsConnection,
    settings: LinkSettings,
    backoff: Backoff,
  ) {
    this.#nc = nc;
    this.#subjects = new SubjectCache(settings.prefix);
    this.#backoff = backoff;
    this.#logger = settings.logger;
    this.#closeTimeout = settings.closeTimeout;
    this.#window = new PublishWindow(nc, settings.maxUnflushedBytes);
    const label = settings.label;
    this.#drops = new DropCounter(
      label,
      DROP_ADVICE,
      this.#logger,
      (n) => this.#events.push({ type: "dropping", ...n }),
    );
    this.#queue = new DeliveryQueue<Pending>({
      maxCount: settings.maxPending,
      maxBytes: settings.maxPendingBytes,
      deliver: ({ channel, message }) => {
        this.#delivered++;
        this.#local.deliver(channel, message);
      },
    });
    this.#local = new LocalChannels({
      opened: (channel) => this.#open(channel),
      closed: (channel) => this.#shut(channel),
      failed: (channel, err) =>
        this.#logger.error(
          `${label}: a subscriber of ${channel} threw: ${errorOf(err).message}`,
        ),
    });
    const max = nc.info?.max_payload ?? WANTED_PAYLOAD;
    if (max < WANTED_PAYLOAD) {
      this.#logger.warn(
        `${label}: the NATS server's max_payload is ${max} bytes, so larger updates are dropped; set max_payload: 2MB in nats-server's configuration to carry 1 MiB updates`,
      );
    }
    this.#statusLoop = this.#watch(label);
  }

  /** The link's state. */
  get state(): NatsBrokerState {
    return this.#state;
  }

  /** Messages dropped since the broker was created, all reasons together. */
  get dropped(): number {
    return this.#drops.total;
  }

  /** A snapshot of the broker's counters. */
  get stats(): NatsBrokerStats {
    return {
      state: this.#state,
      published: this.#published,
      received: this.#received,
      delivered: this.#delivered,
      dropped: this.#drops.total,
      droppedBy: this.#drops.snapshot(),
      pending: this.#queue.count,
      pendingBytes: this.#queue.bytes,
      unflushedBytes: this.#window.bytes,
      reconnects: this.#reconnects,
      channels: this.#local.size,
    };
  }

  /**
   * Link changes, drop notices and errors from now on, until the broker
   * closes or `signal` aborts. A reader that falls behind loses its oldest
   * events (256 wait at most).
   *
   * @param signal Stops the iteration.
   */
  events(signal?: AbortSignal): AsyncIterableIterator<NatsBrokerEvent> {
    return this.#events.iterate(signal);
  }

  /**
   * Delivers `message` to this process's subscribers of `channel` now, and
   * publishes it to the other nodes (or drops and counts it, see
   * {@link NatsDropReason}).
   *
   * @param channel The channel, e.g. `topic:/room/messages`.
   * @param message The message; `data` is copied before this returns.
   * @throws {RangeError} When a session id is not a non-negative integer.
   */
  publish(channel: string, message: BrokerMessage): void {
    if (this.#closed) return this.#drops.count("closed");
    const envelope = encodeEnvelope(message);
    this.#local.deliver(channel, message);
    if (this.#state !== "connected") return this.#drops.count("disconnected");
    if (envelope.length > (this.#nc.info?.max_payload ?? Infinity)) {
      return this.#drops.count("tooLarge");
    }
    if (!this.#window.fits(envelope.length)) {
      return this.#drops.count("backpressure");
    }
    try {
      this.#nc.publish(this.#subjects.get(channel), envelope);
    } catch (err) {
      this.#logger.debug(`NatsBroker: publish failed: ${errorOf(err).message}`);
      return this.#drops.count(this.#nc.isClosed() ? "closed" : "disconnected");
    }
    this.#published++;
    this.#window.sent(envelope.length);
  }

  /**
   * Delivers the messages published on `channel` (here and on other nodes)
   * to `deliver` until the handle is disposed. Messages from other nodes
   * arrive once NATS has seen the subscription (see {@link flush}).
   *
   * @param channel The channel.
   * @param deliver Called with each message; `data` must not be modified.
   * @returns The handle.
   */
  subscribe(
    channel: string,
    deliver: (message: BrokerMessage) => void,
  ): Disposable {
    return this.#local.subscribe(channel, deliver);
  }

  /**
   * Resolves once the NATS server has processed every subscription and
   * publish this broker made before the call.
   *
   * @throws {Error} When the broker is closed or the link drops first.
   */
  async flush(): Promise<void> {
    if (this.#closed) throw new Error("NatsBroker is closed");
    await this.#nc.flush();
  }

  /** Resolves once NATS has seen the subscriptions (at once while down). */
  async ready(): Promise<void> {
    if (this.#closed || this.#state !== "connected") return;
    await this.#nc.flush().catch(() => {});
  }

  /**
   * Unsubscribes, sends what NATS still has to send (for at most
   * `closeTimeout` ms) and closes the link. Later publishes are dropped
   * and counted (`closed`), as are messages still waiting for delivery.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#window.close();
    this.#drops.count("closed", this.#queue.close());
    this.#local.clear();
    this.#subs.clear();
    if (!this.#nc.isClosed() && this.#state === "connected") {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#nc.drain().catch(() => {}),
        new Promise((resolve) =>
          timer = setTimeout(resolve, this.#closeTimeout)
        ),
      ]);
      clearTimeout(timer);
    }
    if (!this.#nc.isClosed()) await this.#nc.close().catch(() => {});
    await this.#statusLoop;
    this.#state = "closed";
    this.#events.push({ type: "closed" });
    this.#events.end();
  }

  #open(channel: LocalChannel): void {
    if (this.#closed) return;
    try {
      this.#subs.set(
        channel,
        this.#nc.subscribe(this.#subjects.get(channel.name), {
          callback: (err, msg) => this.#receive(channel, err, msg),
        }),
      );
    } catch (err) {
      this.#logger.error(
        `NatsBroker: cannot subscribe to ${channel.name}: ${
          errorOf(err).message
        }`,
      );
    }
  }

  #shut(channel: LocalChannel): void {
    const sub = this.#subs.get(channel);
    this.#subs.delete(channel);
    try {
      sub?.unsubscribe();
    } catch { /* the connection is closing */ }
  }

  #receive(channel: LocalChannel, err: Error | null, msg: Msg): void {
    if (err) {
      this.#logger.error(
        `NatsBroker: subscription to ${channel.name} failed: ${err.message}`,
      );
      this.#events.push({ type: "error", error: err });
      return;
    }
    if (this.#closed) return this.#drops.count("closed");
    let message: BrokerMessage;
    try {
      message = decodeEnvelope(msg.data);
    } catch (e) {
      this.#drops.count("malformed");
      this.#events.push({ type: "error", error: errorOf(e) });
      return;
    }
    this.#received++;
    const bytes = msg.data.length + ITEM_OVERHEAD;
    if (!this.#queue.push({ channel, message }, bytes)) {
      this.#drops.count("slowConsumer");
    }
  }

  async #watch(label: string): Promise<void> {
    await watchStatus(this.#nc, {
      down: (server) => {
        this.#state = "reconnecting";
        this.#logger.warn(
          `${label}: lost NATS at ${server}; local work goes on, cross-node deliveries are dropped until it is back`,
        );
        this.#events.push({ type: "disconnected", server });
      },
      attempt: () => this.#events.push({ type: "reconnecting" }),
      up: (server) => {
        this.#state = "connected";
        this.#backoff.reset();
        this.#reconnects++;
        this.#logger.info(
          `${label}: NATS is back at ${server} (${this.#drops.snapshot().disconnected} publishes dropped while it was down, in all)`,
        );
        this.#events.push({ type: "reconnected", server });
      },
      error: (error) => {
        this.#logger.error(`${label}: NATS error: ${error.message}`);
        this.#events.push({ type: "error", error });
      },
      note: (line) => this.#logger.warn(`${label}: ${line}`),
    });
    if (!this.#closed) {
      this.#state = "closed";
      this.#logger.error(
        `${label}: the NATS connection closed for good; restart this node`,
      );
    }
  }
}
