/**
 * Topics: a path that sessions subscribe to, and the fan-out of each
 * publish to the subscriptions whose filter accepts it.
 *
 * @module
 */

import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import type { MessageSchema } from "../client/schema.ts";
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
   * Turns published data into `U`, once per publish and only when some
   * subscription has a filter. Default: the bytes themselves.
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

  /** Creates a topic on `route`; use `server.topic` instead. */
  constructor(route: Route, options: TopicOptions<unknown, unknown> = {}) {
    this.route = route;
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
   * Adds a subscription with the subscriber's raw filter bytes.
   *
   * @throws {Error} when the topic's `decodeFilter` rejects the bytes.
   */
  add(session: Session, id: number, filterBytes: Uint8Array): Subscription {
    let filter: unknown = undefined;
    if (filterBytes.length > 0 && this.#filter) {
      filter = this.#decodeFilter
        ? this.#decodeFilter(filterBytes)
        : filterBytes.slice();
      this.#filtered++;
    }
    const sub: Subscription = {
      session,
      id,
      topic: this,
      filter,
      index: this.#subscribers.length,
    };
    this.#subscribers.push(sub);
    return sub;
  }

  /** Removes a subscription in O(1). */
  remove(sub: Subscription): void {
    const list = this.#subscribers;
    const i = sub.index;
    if (list[i] !== sub) return;
    const last = list.pop()!;
    if (last !== sub) {
      list[i] = last;
      last.index = i;
    }
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
      update = this.#decodeUpdate(data);
    }
    let sent = 0;
    for (let i = 0; i < list.length; i++) {
      const sub = list[i];
      if (
        sub.filter !== undefined &&
        !this.#filter!(sub.filter, update, sub.session)
      ) {
        continue;
      }
      if (sub.session.sendUpdate(sub.id, data)) sent++;
    }
    return sent;
  }

  /** Whether `sub`'s filter accepts `data` (for pushes to one session). */
  accepts(sub: Subscription, data: Uint8Array): boolean {
    if (sub.filter === undefined) return true;
    const update = this.#decodeUpdate ? this.#decodeUpdate(data) : data;
    return this.#filter!(sub.filter, update, sub.session);
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
