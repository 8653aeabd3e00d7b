/**
 * Topics: a path that sessions subscribe to, and the fan-out of each
 * publish to the subscriptions whose filter accepts it.
 *
 * @module
 */

import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import type { MessageSchema } from "../client/schema.ts";
import type { Logger } from "./logger.ts";
import type { Route } from "./router.ts";
import type { Session } from "./session.ts";

/**
 * Decides whether a subscription gets an update. Called only for
 * subscriptions that sent a non-empty filter; an empty filter means
 * "everything".
 */
export type TopicFilter<F, U> = (
  filter: F,
  update: U,
  session: Session,
) => boolean;

/** How a topic decodes filters and updates and applies filters. */
export interface TopicOptions<F = Uint8Array, U = Uint8Array> {
  /** Decides per subscription whether an update is delivered. */
  filter?: TopicFilter<F, U>;
  /**
   * Turns a subscriber's filter bytes into `F`, once, at subscribe time;
   * throwing refuses the subscription. Default: a copy of the bytes.
   */
  decodeFilter?: (bytes: Uint8Array) => F;
  /**
   * Turns published data into `U`: once per publish when some
   * subscription has a filter (and once per subscription for a push to one
   * session). Default: the bytes themselves.
   */
  decodeUpdate?: (bytes: Uint8Array) => U;
}

/** Options of a topic whose filters and updates are protobuf messages. */
export interface TypedTopicOptions<F extends object, U extends object> {
  /** Schema of the subscribers' filter messages. */
  filterSchema: MessageSchema<F>;
  /** Schema of the published messages. */
  updateSchema: MessageSchema<U>;
  /** Decides per subscription whether an update is delivered. */
  filter: TopicFilter<F, U>;
}

/** One session's subscription to a topic. */
export interface Subscription {
  /** The subscribing session. */
  readonly session: Session;
  /** The SUBSCRIBE request's id, carried by every update. */
  readonly id: number;
  /** The topic subscribed to. */
  readonly topic: Topic;
  /** The decoded filter, `undefined` for "everything". */
  readonly filter: unknown;
  /** Position in the topic's subscriber list (for O(1) removal). */
  index: number;
}

/**
 * A topic: its subscriptions and how it filters. Created by
 * `server.topic(path, options)`.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * const ticks = server.topic("/ticks");
 * server.publish("/ticks", new Uint8Array([1]));
 * console.log(ticks.size); // 0: nobody has subscribed yet
 * ```
 */
export class Topic {
  /** The route the topic lives on. */
  readonly route: Route;
  #subscribers: Subscription[] = [];
  #filter?: TopicFilter<unknown, unknown>;
  #decodeFilter?: (bytes: Uint8Array) => unknown;
  #decodeUpdate?: (bytes: Uint8Array) => unknown;
  #filtered = 0;
  #logger: Logger;

  /** Creates a topic on `route`; use `server.topic` instead. */
  constructor(
    route: Route,
    options: TopicOptions<unknown, unknown> = {},
    logger: Logger = console,
  ) {
    this.route = route;
    this.#logger = logger;
    this.#filter = options.filter;
    this.#decodeFilter = options.decodeFilter;
    this.#decodeUpdate = options.decodeUpdate;
  }

  /** The topic's path. */
  get path(): string {
    return this.route.path;
  }

  /** Number of live subscriptions. */
  get size(): number {
    return this.#subscribers.length;
  }

  /**
   * Builds (but does not attach) a subscription from the subscriber's raw
   * filter bytes. Internal: sessions call it while a SUBSCRIBE is pending.
   *
   * @throws {Error} when the topic's `decodeFilter` rejects the bytes.
   */
  _prepare(
    session: Session,
    id: number,
    filterBytes: Uint8Array,
  ): Subscription {
    let filter: unknown = undefined;
    if (filterBytes.length > 0 && this.#filter) {
      filter = this.#decodeFilter
        ? this.#decodeFilter(filterBytes)
        : filterBytes.slice();
    }
    return { session, id, topic: this, filter, index: -1 };
  }

  /** Starts delivering to `sub`. Internal: sessions call it on the ack. */
  _attach(sub: Subscription): void {
    sub.index = this.#subscribers.length;
    this.#subscribers.push(sub);
    if (sub.filter !== undefined) this.#filtered++;
  }

  /** Stops delivering to `sub`, in O(1). Internal: sessions call it. */
  _detach(sub: Subscription): void {
    const list = this.#subscribers;
    const i = sub.index;
    if (i < 0 || list[i] !== sub) return;
    const last = list.pop()!;
    if (last !== sub) {
      list[i] = last;
      last.index = i;
    }
    sub.index = -1;
    if (sub.filter !== undefined) this.#filtered--;
  }

  /**
   * Sends `data` as an UPDATE to every subscription whose filter accepts
   * it, and to no other.
   *
   * @returns How many subscriptions it was queued for.
   */
  deliver(data: Uint8Array): number {
    const list = this.#subscribers;
    let update: unknown = data;
    if (this.#filtered > 0 && this.#decodeUpdate) {
      try {
        update = this.#decodeUpdate(data);
      } catch (err) {
        this.#log(`cannot decode an update for ${this.path}`, err);
        return 0;
      }
    }
    let sent = 0;
    for (let i = 0; i < list.length; i++) {
      const sub = list[i];
      if (sub.filter !== undefined && !this.#passes(sub, update)) continue;
      if (sub.session.sendUpdate(sub.id, data)) sent++;
    }
    return sent;
  }

  /**
   * Whether `sub`'s filter accepts `update` (already decoded when the
   * topic decodes updates). A filter that throws rejects, and is logged.
   */
  #passes(sub: Subscription, update: unknown): boolean {
    try {
      return this.#filter!(sub.filter, update, sub.session);
    } catch (err) {
      this.#log(`the filter of ${this.path} threw`, err);
      return false;
    }
  }

  #log(what: string, err: unknown): void {
    this.#logger.error(`${what}: ${err instanceof Error ? err.message : err}`);
  }

  /**
   * Whether `sub`'s filter accepts `data`, for pushes to one session: the
   * update is decoded for this subscription alone.
   */
  accepts(sub: Subscription, data: Uint8Array): boolean {
    if (sub.filter === undefined) return true;
    let update: unknown = data;
    if (this.#decodeUpdate) {
      try {
        update = this.#decodeUpdate(data);
      } catch (err) {
        this.#log(`cannot decode a push for ${this.path}`, err);
        return false;
      }
    }
    return this.#passes(sub, update);
  }
}

/** Turns {@link TypedTopicOptions} into plain {@link TopicOptions}. */
export function typedTopicOptions<F extends object, U extends object>(
  options: TypedTopicOptions<F, U>,
): TopicOptions<F, U> {
  const filterSchema = options.filterSchema as unknown as DescMessage;
  const updateSchema = options.updateSchema as unknown as DescMessage;
  return {
    filter: options.filter,
    decodeFilter: (bytes) => fromBinary(filterSchema, bytes) as unknown as F,
    decodeUpdate: (bytes) => fromBinary(updateSchema, bytes) as unknown as U,
  };
}
