/**
 * A {@link Broker} between the Deno Workers of one process, over
 * `BroadcastChannel`: `--workers N` shares topics, groups and uids without
 * any outside service.
 *
 * @module
 */

import type { Broker, BrokerMessage } from "../server/broker.ts";
import { type Logger, textConsole } from "../server/logger.ts";
import { DropCounter } from "./_drops.ts";
import { decodeEnvelope, encodeEnvelope } from "./_envelope.ts";
import { LocalChannels } from "./_local_channels.ts";
import { Batch, type BatchPost, readBatch } from "./_worker_batch.ts";

/** Options of {@link BroadcastChannelBroker}. */
export interface BroadcastChannelBrokerOptions {
  /**
   * The `BroadcastChannel` name; brokers with the same name share
   * channels. `"nanorpc"` by default.
   */
  name?: string;
  /**
   * Most bytes one turn of the event loop may publish to the other
   * workers; beyond it publishes are dropped (`backpressure`). 4 MiB by
   * default.
   */
  maxBatchBytes?: number;
  /** Where drops are logged; the console by default (objects as text). */
  logger?: Logger;
}

/**
 * Why a message was dropped:
 * - `backpressure`: over `maxBatchBytes` in one turn;
 * - `lost`: the runtime dropped it on the way to this worker (Deno's
 *   `BroadcastChannel` keeps 256 posts per receiver and drops older ones
 *   when a worker falls behind); detected by sequence numbers from the
 *   first post a worker hears from each other worker on;
 * - `malformed`: a post this broker cannot read;
 * - `closed`: published after close.
 */
export type BroadcastDropReason =
  | "backpressure"
  | "lost"
  | "malformed"
  | "closed";

/** Counters of a {@link BroadcastChannelBroker}. */
export interface BroadcastChannelBrokerStats {
  /** Messages posted to the other workers. */
  published: number;
  /** Messages that arrived from other workers. */
  received: number;
  /** Arrived messages that had a subscriber here. */
  delivered: number;
  /** Messages dropped, all reasons together. */
  dropped: number;
  /** Messages dropped, by reason. */
  droppedBy: Record<BroadcastDropReason, number>;
  /** Channels this worker subscribes to. */
  channels: number;
}

/** Origins remembered for gap detection; workers that come and go. */
const MAX_ORIGINS = 1024;

/**
 * Shares broker channels between the workers of one process. A publish
 * reaches the publishing worker's subscribers synchronously; the other
 * workers get it after the current turn of the event loop, when all
 * publishes of the turn go out as one post (so a burst costs one slot of
 * the runtime's per-receiver buffer, not one per message).
 *
 * Bounded: a turn posts at most `maxBatchBytes`, and a worker that falls
 * behind loses posts in the runtime, which the receiver detects and
 * counts (`lost`).
 *
 * @example
 * ```ts
 * import { BroadcastChannelBroker } from "@nanorpc/nanorpc/cluster";
 *
 * // In each worker:
 * await using broker = new BroadcastChannelBroker({ name: "my-app" });
 * using _sub = broker.subscribe("topic:/news", (m) => console.log(m.data));
 * broker.publish("topic:/news", { path: "/news", data: new Uint8Array([1]) });
 * ```
 */
export class BroadcastChannelBroker implements Broker {
  /** A random id for this broker, unique across workers. */
  readonly id: string = crypto.randomUUID();
  #channel: BroadcastChannel;
  #local: LocalChannels;
  #drops: DropCounter<BroadcastDropReason>;
  #batch: Batch;
  #maxBatchBytes: number;
  #scheduled = false;
  #seq = 0;
  #expected = new Map<string, number>();
  #published = 0;
  #received = 0;
  #delivered = 0;
  #closed = false;

  /**
   * Joins the `BroadcastChannel` named by `options.name`.
   *
   * @param options Name, bound and logger.
   * @throws {RangeError} When `maxBatchBytes` is not positive.
   */
  constructor(options: BroadcastChannelBrokerOptions = {}) {
    const name = options.name ?? "nanorpc";
    this.#maxBatchBytes = options.maxBatchBytes ?? 4 << 20;
    if (!(this.#maxBatchBytes > 0)) {
      throw new RangeError(
        "BroadcastChannelBroker: maxBatchBytes must be a positive number of bytes",
      );
    }
    const logger = options.logger ?? textConsole;
    const label = `BroadcastChannelBroker ${name}`;
    this.#drops = new DropCounter(label, {
      backpressure:
        "one turn published more than maxBatchBytes; publish less per turn or raise it",
      lost:
        "this worker fell behind and the runtime dropped posts to it; keep handlers short or publish less",
      malformed:
        "a post on the channel is not from a matching broker; give the broker its own channel name",
      closed: undefined,
    }, logger);
    this.#batch = new Batch();
    this.#local = new LocalChannels({
      failed: (channel, err) =>
        logger.error(
          `${label}: a subscriber of ${channel} threw: ${
            err instanceof Error ? err.message : err
          }`,
        ),
    });
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (e) => this.#receive(e.data);
  }

  /** Messages dropped since the broker was created, all reasons together. */
  get dropped(): number {
    return this.#drops.total;
  }

  /** A snapshot of the broker's counters. */
  get stats(): BroadcastChannelBrokerStats {
    return {
      published: this.#published,
      received: this.#received,
      delivered: this.#delivered,
      dropped: this.#drops.total,
      droppedBy: this.#drops.snapshot(),
      channels: this.#local.size,
    };
  }

  /**
   * Delivers `message` to this worker's subscribers of `channel` now, and
   * to the other workers' after this turn.
   *
   * @param channel The channel, e.g. `topic:/room/messages`.
   * @param message The message; `data` is copied before this returns.
   * @throws {RangeError} When a session id is not a non-negative integer.
   */
  publish(channel: string, message: BrokerMessage): void {
    if (this.#closed) return this.#drops.count("closed");
    const envelope = encodeEnvelope(message);
    this.#local.deliver(channel, message);
    if (!this.#batch.fits(channel, envelope, this.#maxBatchBytes)) {
      return this.#drops.count("backpressure");
    }
    this.#batch.add(channel, envelope);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#post());
    }
  }

  /**
   * Delivers the messages published on `channel` by any worker to
   * `deliver` until the handle is disposed.
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
   * Posts what this turn published, then leaves the channel. Later
   * publishes are dropped and counted (`closed`).
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#post();
      this.#closed = true;
      this.#local.clear();
      this.#channel.close();
    }
    return Promise.resolve();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #post(): void {
    this.#scheduled = false;
    if (this.#closed || this.#batch.count === 0) return;
    const count = this.#batch.count;
    const post: BatchPost = {
      o: this.id,
      s: this.#seq,
      n: count,
      b: this.#batch.take(),
    };
    this.#seq += count;
    this.#published += count;
    this.#channel.postMessage(post);
  }

  #receive(post: unknown): void {
    if (this.#closed) return;
    const batch = readBatch(post);
    if (!batch) return this.#drops.count("malformed");
    const { origin, first, count } = batch;
    const expected = this.#expected.get(origin);
    if (expected !== undefined && first > expected) {
      this.#drops.count("lost", first - expected);
    }
    if (expected === undefined && this.#expected.size >= MAX_ORIGINS) {
      this.#expected.clear();
    }
    this.#expected.set(origin, first + count);
    let read = 0;
    try {
      for (const [channel, envelope] of batch.entries()) {
        read++;
        this.#received++;
        if (!this.#local.get(channel)) continue;
        let message: BrokerMessage;
        try {
          message = decodeEnvelope(envelope);
        } catch {
          this.#drops.count("malformed");
          continue;
        }
        this.#delivered++;
        this.#local.deliver(channel, message);
      }
    } catch {
      // The batch's framing broke: what was not read is lost.
      this.#drops.count("malformed", count - read);
    }
  }
}
