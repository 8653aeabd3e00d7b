/**
 * The public shape of a subscription to a topic, as returned by
 * `Client.subscribe`.
 *
 * @module
 */

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";

/**
 * Where a subscription is in its life:
 * - `subscribing`: SUBSCRIBE sent (or waiting for a connection), no ack yet;
 * - `active`: acknowledged, updates flow;
 * - `resubscribing`: the connection dropped; a new SUBSCRIBE with the same
 *   path and filter goes out as soon as the client reconnects;
 * - `unsubscribing`: `unsubscribe()` was called (or the subscription
 *   failed, see `error`, and the client is unsubscribing), its ack is
 *   awaited; no more updates are delivered;
 * - `closed`: over; no more updates.
 */
export type SubscriptionState =
  | "subscribing"
  | "active"
  | "resubscribing"
  | "unsubscribing"
  | "closed";

/** Options of `Client.subscribe`. */
export interface SubscribeOptions<T = Uint8Array> {
  /** Send the path as its FNV-1a hash. @default {the client's `hash`} */
  hash?: boolean;
  /**
   * Milliseconds to wait for each ack: the subscribe's (time spent waiting
   * for a connection included), every re-subscribe's after a reconnect (one
   * that times out ends the subscription with a `TimeoutError`) and the
   * unsubscribe's; 0 or `Infinity` waits forever.
   * @default {the client's `timeout`}
   */
  timeout?: number;
  /**
   * Aborting it cancels a pending subscribe (the returned promise rejects
   * with the signal's reason) or unsubscribes an active subscription.
   */
  signal?: AbortSignal;
  /**
   * Most updates held for the async iterator when the consumer lags (a
   * whole number >= 1). When full, the oldest update is dropped and
   * `dropped` counts it.
   * @default {1024}
   */
  bufferSize?: number;
  /**
   * Receives every update as it arrives, synchronously, on the client's
   * read path. When given, updates go to this callback only and the async
   * iterator yields nothing (it still ends when the subscription ends). An
   * exception it throws (or the rejection of the promise an async callback
   * returns) is caught and logged with `console.error`; the subscription
   * and the connection go on, and the next update is delivered as usual.
   * (It is not passed to `reportError`, which ends a Deno process.)
   */
  onUpdate?: (update: T, subscription: ClientSubscription<T>) => void;
  /**
   * Called once if the subscription ends with an error after it was
   * acknowledged: the server refused the re-subscribe after a reconnect or
   * did not acknowledge it within `timeout`, the connection was lost with
   * reconnection off, the client gave up reconnecting, or an update did
   * not decode with the `output` schema. The async iterator throws the
   * same error and `error` holds it. An exception the callback throws (or
   * its promise's rejection) is caught and logged with `console.error`; it
   * changes nothing else.
   */
  onError?: (error: Error) => void;
}

/** {@link SubscribeOptions} of a subscription whose updates are decoded. */
export interface TypedSubscribeOptions<O extends DescMessage>
  extends SubscribeOptions<MessageShape<O>> {
  /** protobuf-es schema every update is decoded with. */
  output: O;
}

/**
 * A live subscription to a topic: an async iterable of its updates (or a
 * callback, see {@link SubscribeOptions.onUpdate}) that survives reconnects.
 *
 * Updates arriving between `unsubscribe()` and its ack are discarded (and
 * counted in `discarded`); updates buffered before `unsubscribe()` are
 * still yielded by the iterator, which then ends. Breaking out of a
 * `for await` loop starts `unsubscribe()` without waiting for its ack.
 * Only a RESPONSE with the subscription's id counts as an ack.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nanorpc/nanorpc";
 *
 * await using client = await connect("tcp://127.0.0.1:7411");
 * const sub = await client.subscribe("/room/messages");
 * for await (const update of sub) {
 *   console.log(new TextDecoder().decode(update));
 * }
 * ```
 */
export interface ClientSubscription<T = Uint8Array>
  extends AsyncIterable<T>, AsyncDisposable {
  /** Request id of the subscription; it keeps it across reconnects. */
  readonly id: number;
  /** Topic path. */
  readonly path: string;
  /** Filter bytes sent with SUBSCRIBE (empty: every update). */
  readonly filter: Uint8Array;
  /** Where the subscription is in its life. */
  readonly state: SubscriptionState;
  /** Updates dropped (oldest first) because the iterator's buffer was full. */
  readonly dropped: number;
  /** Updates that arrived after `unsubscribe()` and were discarded. */
  readonly discarded: number;
  /** Why the subscription ended, if it ended with an error. */
  readonly error: Error | undefined;
  /**
   * Ends the subscription as the protocol says: sends REQUEST with the same
   * request id and path and empty data, and resolves on its ack. Safe to
   * call more than once. When the client is disconnected it ends at once
   * (the server forgot the subscription with the session).
   *
   * However it settles, the subscription is then over on this side: its
   * state is `closed` and the iterator ends (after the updates buffered
   * before the call). Its request id stays reserved until the ack arrives
   * or the connection ends, so late frames never reach a newer request.
   *
   * @throws {TimeoutError} When the ack does not come within the timeout.
   * @throws {NanoRpcError} When the server answers the unsubscribe with a
   * non-OK status (a subclass such as `NotFoundError`).
   */
  unsubscribe(): Promise<void>;
}
