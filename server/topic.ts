/**
 * Topics: a path that sessions subscribe to, with an optional filter per
 * subscription. `server.topic(path, options)` declares one and
 * `server.publish(path, data)` fans an update out to its subscribers.
 *
 * @module
 */

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
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
export interface TypedTopicOptions<
  F extends DescMessage,
  U extends DescMessage,
> {
  /** Schema of the subscribers' filter messages. */
  filterSchema: F;
  /** Schema of the published messages. */
  updateSchema: U;
  /** Decides per subscription whether an update is delivered. */
  filter: TopicFilter<MessageShape<F>, MessageShape<U>>;
}

/**
 * A topic declared with `server.topic(path, options)`.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * const ticks = server.topic("/ticks");
 * server.publish("/ticks", new Uint8Array([1]));
 * console.log(ticks.size); // 0: nobody has subscribed yet
 * ```
 */
export interface Topic {
  /** The topic's path. */
  readonly path: string;
  /** Number of live subscriptions on this server. */
  readonly size: number;
}
